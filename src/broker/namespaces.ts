/**
 * Tenants and namespaces. As in Pulsar, a producer or consumer on a v2 topic whose namespace does not
 * exist is refused (404 "Namespace not found"); a fresh broker has what Pulsar standalone creates:
 * `public/default` and `pulsar/system`. Persisted in `<data-dir>/namespaces.json`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-file.js';
import type { RetentionPolicy } from './storage/retention.js';

interface NamespacesFile {
  readonly version: 1;
  readonly tenants: string[];
  readonly namespaces: string[];
  /** Namespace deduplication policies (`set-deduplication`); absent = the broker's default. */
  readonly deduplication?: Record<string, boolean>;
  /** Namespace retention policies (`set-retention`); absent = the broker's defaults. */
  readonly retention?: Record<string, RetentionPolicy>;
}

const INITIAL: NamespacesFile = {
  version: 1,
  tenants: ['public', 'pulsar'],
  namespaces: ['public/default', 'pulsar/system'],
};

export class NamespaceNotFoundError extends Error {
  override readonly name = 'NamespaceNotFoundError';
}

export class TenantNotFoundError extends Error {
  override readonly name = 'TenantNotFoundError';
}

export class AlreadyExistsError extends Error {
  override readonly name = 'AlreadyExistsError';
}

export class NamespaceRegistry {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly tenants: Set<string>,
    private readonly namespaces: Set<string>,
    private readonly deduplication: Map<string, boolean>,
    private readonly retention: Map<string, RetentionPolicy>,
  ) {}

  static async open(dataDir: string): Promise<NamespaceRegistry> {
    const path = join(dataDir, 'namespaces.json');
    let file = INITIAL;
    try {
      file = JSON.parse(await readFile(path, 'utf8')) as NamespacesFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return new NamespaceRegistry(
      path,
      new Set(file.tenants),
      new Set(file.namespaces),
      new Map(Object.entries(file.deduplication ?? {})),
      new Map(Object.entries(file.retention ?? {})),
    );
  }

  hasNamespace(namespace: string): boolean {
    return this.namespaces.has(namespace);
  }

  /** The namespace's deduplication policy, or undefined when it follows the broker's default. */
  deduplicationOf(namespace: string): boolean | undefined {
    return this.deduplication.get(namespace);
  }

  /** Sets (or, with undefined, removes) the namespace's deduplication policy. @throws NamespaceNotFoundError */
  setDeduplication(namespace: string, enabled: boolean | undefined): Promise<void> {
    if (!this.namespaces.has(namespace))
      return Promise.reject(new NamespaceNotFoundError('Namespace does not exist'));
    if (enabled === undefined) this.deduplication.delete(namespace);
    else this.deduplication.set(namespace, enabled);
    return this.save();
  }

  /** The namespace's retention policy, or undefined when it follows the broker's defaults. */
  retentionOf(namespace: string): RetentionPolicy | undefined {
    return this.retention.get(namespace);
  }

  /** Sets (or, with undefined, removes) the namespace's retention policy. @throws NamespaceNotFoundError */
  setRetention(namespace: string, policy: RetentionPolicy | undefined): Promise<void> {
    if (!this.namespaces.has(namespace))
      return Promise.reject(new NamespaceNotFoundError('Namespace does not exist'));
    if (policy === undefined) this.retention.delete(namespace);
    else this.retention.set(namespace, policy);
    return this.save();
  }

  listTenants(): string[] {
    return [...this.tenants].sort();
  }

  /** @throws TenantNotFoundError */
  listNamespaces(tenant: string): string[] {
    if (!this.tenants.has(tenant)) throw new TenantNotFoundError('Tenant does not exist');
    return [...this.namespaces].filter((ns) => ns.startsWith(`${tenant}/`)).sort();
  }

  /** @throws AlreadyExistsError */
  createTenant(tenant: string): Promise<void> {
    if (this.tenants.has(tenant)) return Promise.reject(new AlreadyExistsError('Tenant already exists'));
    this.tenants.add(tenant);
    return this.save();
  }

  /** @throws TenantNotFoundError, AlreadyExistsError */
  createNamespace(tenant: string, namespace: string): Promise<void> {
    const name = `${tenant}/${namespace}`;
    if (!this.tenants.has(tenant)) return Promise.reject(new TenantNotFoundError('Tenant does not exist'));
    if (this.namespaces.has(name)) return Promise.reject(new AlreadyExistsError('Namespace already exists'));
    this.namespaces.add(name);
    return this.save();
  }

  /** Writes the current sets; writes are serialised so the file always ends with the latest state. */
  private save(): Promise<void> {
    const write = this.chain.then(() => {
      const file: NamespacesFile = {
        version: 1,
        tenants: [...this.tenants],
        namespaces: [...this.namespaces],
        // Policies are saved with the names (they were lost on the next save before).
        deduplication: Object.fromEntries(this.deduplication),
        retention: Object.fromEntries(this.retention),
      };
      return writeFileAtomic(this.path, JSON.stringify(file, null, 2));
    });
    // The caller gets the failure through `write`; the chain only orders the writes.
    this.chain = write.catch(() => undefined);
    return write;
  }
}

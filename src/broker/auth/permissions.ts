/**
 * Authorization as Pulsar's default provider does it for the WebSocket API: super-user roles may do
 * anything; other roles need `produce` (producers) or `consume` (consumers, readers) granted on the
 * topic's namespace. Grants come from an optional permissions file at start-up and from the admin API
 * (`POST /admin/v2/namespaces/{tenant}/{ns}/permissions/{role}`); the latter persist in
 * `<data-dir>/permissions.json`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../fs/atomic-file.js';

export const AUTH_ACTIONS = ['produce', 'consume', 'functions', 'sources', 'sinks', 'packages'] as const;
export type AuthAction = (typeof AUTH_ACTIONS)[number];

/** `{ "tenant/namespace": { "role": ["produce", "consume"] } }` */
export type PermissionGrants = Record<string, Record<string, AuthAction[]>>;

export class PermissionFileError extends Error {
  override readonly name = 'PermissionFileError';
}

function validateGrants(value: unknown, source: string): PermissionGrants {
  const fail = (what: string): never => {
    throw new PermissionFileError(
      `${source}: ${what}; expected {"<tenant>/<namespace>": {"<role>": ["produce" | "consume", ...]}}`,
    );
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  for (const [namespace, roles] of Object.entries(value)) {
    if (!/^[-=:.\w]+\/[-=:.\w]+$/.test(namespace)) fail(`bad namespace "${namespace}"`);
    if (typeof roles !== 'object' || roles === null || Array.isArray(roles))
      fail(`"${namespace}" is not an object`);
    for (const [role, actions] of Object.entries(roles as object)) {
      if (!Array.isArray(actions)) return fail(`"${namespace}"."${role}" is not an array`);
      for (const action of actions) {
        if (!(AUTH_ACTIONS as readonly unknown[]).includes(action)) {
          fail(`"${namespace}"."${role}" has unknown action ${JSON.stringify(action)}`);
        }
      }
    }
  }
  return value as PermissionGrants;
}

export class PermissionStore {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly superUsers: ReadonlySet<string>,
    private readonly grants: PermissionGrants,
  ) {}

  /** Loads persisted grants, then merges those of `grantsFile` (if any) over them. */
  static async open(
    dataDir: string,
    superUsers: readonly string[],
    grantsFile?: string,
  ): Promise<PermissionStore> {
    const path = join(dataDir, 'permissions.json');
    let grants: PermissionGrants = {};
    try {
      grants = validateGrants(JSON.parse(await readFile(path, 'utf8')), path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (grantsFile !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readFile(grantsFile, 'utf8'));
      } catch (error) {
        throw new PermissionFileError(`${grantsFile}: ${(error as Error).message}`, { cause: error });
      }
      for (const [namespace, roles] of Object.entries(validateGrants(parsed, grantsFile))) {
        grants[namespace] = { ...grants[namespace], ...roles };
      }
    }
    return new PermissionStore(path, new Set(superUsers), grants);
  }

  isSuperUser(role: string): boolean {
    return this.superUsers.has(role);
  }

  allows(role: string, namespace: string, action: AuthAction): boolean {
    return this.isSuperUser(role) || (this.grants[namespace]?.[role]?.includes(action) ?? false);
  }

  list(namespace: string): Record<string, AuthAction[]> {
    return { ...this.grants[namespace] };
  }

  /** Replaces `role`'s actions on `namespace` (Pulsar's grant semantics), persisted. */
  grant(namespace: string, role: string, actions: unknown): Promise<void> {
    const validated = validateGrants({ [namespace]: { [role]: actions } }, 'grant');
    this.grants[namespace] = { ...this.grants[namespace], ...validated[namespace] };
    const write = this.chain.then(() => writeFileAtomic(this.path, JSON.stringify(this.grants, null, 2)));
    // The caller gets the failure through `write`; the chain only orders the writes.
    this.chain = write.catch(() => undefined);
    return write;
  }
}

/**
 * Broker-wide ledger id allocation. Like BookKeeper, every new segment of any topic gets a fresh,
 * ever-increasing ledger id, so message ids order correctly across broker restarts (a restarted topic
 * writes to a new ledger, as Pulsar's does).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../fs/atomic-file.js';

const FILE_NAME = 'next-ledger-id';

export class LedgerIdAllocator {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private next: number,
  ) {}

  static async open(dataDir: string): Promise<LedgerIdAllocator> {
    const path = join(dataDir, FILE_NAME);
    let next = 1;
    try {
      const text = await readFile(path, 'utf8');
      next = Number.parseInt(text.trim(), 10);
      if (!Number.isSafeInteger(next) || next < 1)
        throw new Error(`corrupt ledger id file ${path}: "${text}"`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return new LedgerIdAllocator(path, next);
  }

  /** Reserves the next id; it is durable before it is returned, so no id is ever handed out twice. */
  allocate(): Promise<number> {
    const result = this.chain.then(async () => {
      const id = this.next;
      await writeFileAtomic(this.path, `${id + 1}\n`);
      this.next = id + 1;
      return id;
    });
    // The caller gets the failure through `result`; the chain only orders allocations.
    this.chain = result.catch(() => undefined);
    return result;
  }
}

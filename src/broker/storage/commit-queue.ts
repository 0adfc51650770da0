/**
 * Group commit for a topic's log: appends wait here while a batch is being written, and the next
 * batch takes as many of them as fit (at most {@link MAX_BATCH_RECORDS} records and about
 * {@link MAX_BATCH_BYTES} bytes, and no more than the writer has room for in its ledger). One batch
 * is written at a time, in append order, so a pipelining producer pays for one write (and sync) per
 * batch, not per message.
 *
 * When a batch fails, it and everything queued behind it are handed to the writer's `fail`: nothing is
 * stored after a message that was not. The next append starts a new batch.
 *
 * Bound: besides the batch being written, what is queued here is what the producers' own bounds
 * admit (docs/broker.md, "Memory").
 */

/** The most records one batch holds. */
export const MAX_BATCH_RECORDS = 4096;
/** A batch stops taking records once it holds this many bytes (the first record always fits). */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/** What the queue needs of an append: the bytes it writes. */
export interface Commit {
  readonly record: Buffer;
}

export interface CommitWriter<T extends Commit> {
  /** How many records the next batch may hold (what the ledger being written has room for). */
  room(): number;
  /** Writes `batch`; resolves once it is stored (and its appends answered). */
  write(batch: readonly T[]): Promise<void>;
  /** `batch` failed with `error`; `behind` were queued after it and are not written either. */
  fail(error: Error, batch: readonly T[], behind: readonly T[]): void;
}

export class CommitQueue<T extends Commit> {
  private queue: T[] = [];
  private writing = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => undefined;

  constructor(private readonly writer: CommitWriter<T>) {}

  /** True while a batch is being written (or appends wait for one). */
  get busy(): boolean {
    return this.writing;
  }

  add(commit: T): void {
    this.queue.push(commit);
    if (!this.writing) this.start();
  }

  /** Resolves when every append added so far has been written or failed. */
  drained(): Promise<void> {
    return this.writing ? this.idle : Promise.resolve();
  }

  private start(): void {
    this.writing = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    void this.writeAll();
  }

  private async writeAll(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        try {
          await this.writer.write(batch);
        } catch (error) {
          const behind = this.queue;
          this.queue = [];
          this.writer.fail(error as Error, batch, behind);
        }
      }
    } finally {
      this.writing = false;
      this.markIdle();
    }
  }

  private takeBatch(): T[] {
    let bytes = 0;
    let take = 0;
    const limit = Math.min(MAX_BATCH_RECORDS, this.writer.room());
    while (take < this.queue.length && take < limit && bytes < MAX_BATCH_BYTES) {
      bytes += this.queue[take]?.record.length ?? 0;
      take++;
    }
    const batch = this.queue.slice(0, take);
    this.queue = this.queue.slice(take);
    return batch;
  }
}

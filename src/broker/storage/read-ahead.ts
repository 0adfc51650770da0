/**
 * Messages read from disk ahead of the one asked for: a consumer or reader behind the read cache
 * (src/broker/storage/read-cache.ts holds what was appended last) reads its ledger in order, so one
 * read of a run of records serves the next many deliveries instead of one system call each.
 *
 * Bounded by design: at most {@link MAX_RUNS} runs of at most {@link RUN_ENTRIES} entries and
 * {@link RUN_BYTES} bytes each (about 1 MiB per topic), the oldest run dropped first. Several
 * consumers at different places of one topic each keep a run of their own.
 */
import type { StoredMessage } from './record-codec.js';

/** Entries read in one go at most. */
export const RUN_ENTRIES = 128;
/** Bytes read in one go at most (one entry larger than this is read alone). */
export const RUN_BYTES = 256 * 1024;
/** Runs kept at once. */
export const MAX_RUNS = 4;

interface Run {
  readonly first: number;
  readonly messages: readonly StoredMessage[];
}

export class ReadAhead {
  private runs: Run[] = [];

  /** The message at `ordinal`, if a run read it. */
  get(ordinal: number): StoredMessage | undefined {
    for (const run of this.runs) {
      const index = ordinal - run.first;
      if (index >= 0 && index < run.messages.length) return run.messages[index];
    }
    return undefined;
  }

  /** Keeps a run of consecutive messages starting at `first`, dropping the oldest run beyond the bound. */
  add(first: number, messages: readonly StoredMessage[]): void {
    this.runs.push({ first, messages });
    if (this.runs.length > MAX_RUNS) this.runs.shift();
  }

  /** Drops runs with entries before `ordinal` (retention deleted them). */
  forgetBefore(ordinal: number): void {
    this.runs = this.runs.filter((run) => run.first >= ordinal);
  }

  clear(): void {
    this.runs = [];
  }
}

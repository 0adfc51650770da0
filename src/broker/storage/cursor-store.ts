/**
 * Persistence of one durable subscription's cursor: a snapshot file (`<sub>.json`, replaced
 * atomically) plus an append-only ack journal (`<sub>.acks`, one `ledgerId:entryId` per line).
 *
 * Acks arrive fire-and-forget on the wire, so they are journaled in batches: everything acked during
 * one event-loop turn is written together (and fdatasync'ed when the broker runs with fsync on).
 * `flushed()` resolves once every ack received so far is written, which the broker uses to answer
 * commands after the acks that preceded them are safe. On load the snapshot and journal are merged
 * and compacted into a new snapshot.
 */
import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../fs/atomic-file.js';
import { isOutOfDescriptors } from './out-of-descriptors.js';

export interface Position {
  readonly ledgerId: number;
  readonly entryId: number;
}

export interface CursorSnapshot {
  /** Everything up to and including this position is acknowledged; null = nothing yet. */
  readonly markDelete: Position | null;
  /** Acknowledged ranges after `markDelete`, each [first, last] (both included), as Pulsar's
   * individually deleted messages. */
  readonly ackedRanges?: readonly (readonly [Position, Position])[];
  /** Single acknowledged positions after `markDelete` (the journal's, and snapshots of old versions). */
  readonly acked: readonly Position[];
}

interface SnapshotFile extends CursorSnapshot {
  readonly version: 1;
  readonly subscription: string;
}

/** Opening the journal while out of file descriptors is retried this often, this far apart. */
const MAX_OPEN_RETRIES = 50;
const OPEN_RETRY_MILLIS = 100;

/** Journal lines beyond which the next load compacts into a new snapshot. */
const COMPACT_AFTER_LINES = 50_000;

/** After a failed journal write (a full disk, say), how long until a snapshot is tried again. */
const RETRY_AFTER_FAILURE_MILLIS = 1000;

/** How a subscription cursor is kept: on disk (durable) or nowhere (NonDurable). */
export interface CursorPersistence {
  load(): Promise<CursorSnapshot | undefined>;
  saveSnapshot(take: () => CursorSnapshot): Promise<void>;
  readonly wantsCompaction: boolean;
  /** Acks are in memory only (a journal write failed): a snapshot would make them durable again. */
  readonly needsSnapshot: boolean;
  recordAck(position: Position): void;
  flushed(): Promise<void>;
  close(): Promise<void>;
  delete(): Promise<void>;
}

/** A NonDurable subscription's cursor: acks live as long as the subscription, in memory. */
export class MemoryCursorStore implements CursorPersistence {
  readonly wantsCompaction = false;
  readonly needsSnapshot = false;

  load(): Promise<CursorSnapshot | undefined> {
    return Promise.resolve(undefined);
  }

  saveSnapshot(): Promise<void> {
    return Promise.resolve();
  }

  recordAck(): void {
    // The in-memory cursor already holds the ack; there is nothing to persist.
  }

  flushed(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  delete(): Promise<void> {
    return Promise.resolve();
  }
}

export class CursorStore implements CursorPersistence {
  private journal: FileHandle | undefined;
  private pending: string[] = [];
  private writing: Promise<void> | undefined;
  private journalLines = 0;
  /** Set while acks are in memory only, since a journal write failed; a snapshot clears it. */
  private failure: Error | undefined;
  private retryAt = 0;
  private openRetries = 0;

  constructor(
    private readonly basePath: string,
    private readonly subscription: string,
    private readonly fsync: boolean,
    private readonly logger: Logger,
  ) {}

  private get snapshotPath(): string {
    return `${this.basePath}.json`;
  }

  private get journalPath(): string {
    return `${this.basePath}.acks`;
  }

  /** Loads the stored cursor, or undefined when the subscription was never created. */
  async load(): Promise<CursorSnapshot | undefined> {
    let snapshot: SnapshotFile;
    try {
      snapshot = JSON.parse(await readFile(this.snapshotPath, 'utf8')) as SnapshotFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const acked = [...snapshot.acked];
    let journalText = '';
    try {
      journalText = await readFile(this.journalPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const lines = journalText.split('\n');
    // The last line is either empty (complete journal) or torn by a crash: that ack was never
    // confirmed to anyone, so dropping it only means one more redelivery.
    lines.pop();
    for (const line of lines) {
      const [ledger, entry] = line.split(':').map(Number);
      if (Number.isSafeInteger(ledger) && Number.isSafeInteger(entry)) {
        acked.push({ ledgerId: ledger ?? 0, entryId: entry ?? 0 });
      }
    }
    this.journalLines = lines.length;
    return {
      markDelete: snapshot.markDelete,
      ...(snapshot.ackedRanges === undefined ? {} : { ackedRanges: snapshot.ackedRanges }),
      acked,
    };
  }

  /**
   * Writes a fresh snapshot and empties the journal. `take` reads the in-memory cursor while no journal
   * write is in flight; acks recorded meanwhile wait and go to the new journal.
   */
  async saveSnapshot(take: () => CursorSnapshot): Promise<void> {
    await this.flushed();
    let unlock: () => void = () => undefined;
    this.writing = new Promise((resolve) => (unlock = resolve));
    try {
      const snapshot = take();
      // Acks already pending are part of `snapshot`; only later ones belong in the new journal.
      this.pending = [];
      const file: SnapshotFile = { version: 1, subscription: this.subscription, ...snapshot };
      await writeFileAtomic(this.snapshotPath, JSON.stringify(file));
      await this.journal?.close();
      // Forgotten before reopening: if the open fails (e.g. EMFILE), the next write opens it again.
      this.journal = undefined;
      this.journal = await open(this.journalPath, 'w');
      if (this.fsync) await this.journal.sync();
      this.journalLines = 0;
      if (this.failure !== undefined) {
        this.failure = undefined;
        this.logger.info({ path: this.journalPath }, 'ack journal written again; acks are on disk');
      }
    } catch (error) {
      this.retryAt = Date.now() + RETRY_AFTER_FAILURE_MILLIS;
      throw error;
    } finally {
      this.writing = undefined;
      unlock();
      if (this.pending.length > 0) this.scheduleWrite();
    }
  }

  /**
   * True when the journal has grown enough that a compaction is worth it, or when acks are in memory
   * only and it is time to try writing them again (as a snapshot of the whole cursor, which also
   * replaces a journal a failed write may have left a partial line in).
   */
  get wantsCompaction(): boolean {
    return (
      this.journalLines >= COMPACT_AFTER_LINES || (this.failure !== undefined && Date.now() >= this.retryAt)
    );
  }

  get needsSnapshot(): boolean {
    return this.failure !== undefined;
  }

  /** Journals an ack; it is written with the other acks of this event-loop turn. */
  recordAck(position: Position): void {
    this.pending.push(`${position.ledgerId}:${position.entryId}\n`);
    if (this.writing === undefined) this.scheduleWrite();
  }

  private scheduleWrite(): void {
    this.writing = new Promise((resolve) => setImmediate(resolve)).then(() => this.writeLoop());
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const text = this.pending.join('');
        const lines = this.pending.length;
        this.pending = [];
        if (this.failure !== undefined) continue;
        try {
          this.journal ??= await open(this.journalPath, 'a');
          await this.journal.appendFile(text);
          if (this.fsync) await this.journal.datasync();
          this.journalLines += lines;
          this.openRetries = 0;
        } catch (error) {
          if (
            this.journal === undefined &&
            isOutOfDescriptors(error) &&
            this.openRetries < MAX_OPEN_RETRIES
          ) {
            // Out of descriptors is momentary: keep the acks and try again shortly.
            this.openRetries++;
            this.pending = [text, ...this.pending];
            await new Promise((resolve) => setTimeout(resolve, OPEN_RETRY_MILLIS));
            continue;
          }
          // Acks are fire-and-forget in the protocol, so there is no one to report this to but the
          // log. They stay in the in-memory cursor, and a snapshot writes them once the disk takes
          // writes again (see wantsCompaction); until then a restart redelivers them.
          if (this.failure === undefined) {
            this.logger.error(
              { err: error, path: this.journalPath },
              'ack journal write failed; acks are kept in memory until a snapshot can be written',
            );
          }
          this.failure = error as Error;
          this.retryAt = Date.now() + RETRY_AFTER_FAILURE_MILLIS;
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  /** Resolves once every ack recorded so far is written. */
  async flushed(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  async close(): Promise<void> {
    await this.flushed();
    await this.journal?.close();
    this.journal = undefined;
  }

  /** Removes the subscription's files (unsubscribe). */
  async delete(): Promise<void> {
    await this.close();
    await rm(this.snapshotPath, { force: true });
    await rm(this.journalPath, { force: true });
  }
}

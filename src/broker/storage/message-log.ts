/**
 * A persistent topic's message log: ledger segments on disk, appended with group commit, read
 * through a bounded cache. Entries are addressed by ordinal (0..length-1 across all segments) and
 * map one-to-one to message ids (ledgerId, entryId).
 *
 * Durability: an append resolves only after its record is written and, with `fsync: true`,
 * fdatasync'ed. Appends that arrive while a write is in progress share the next write and sync
 * (group commit), so a pipelining producer pays for one sync per batch, not per message.
 */
import { EventEmitter } from 'node:events';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { MessageIdData } from '../../protocol/index.js';
import type { LedgerIdAllocator } from './ledger-ids.js';
import { isOutOfDescriptors } from './out-of-descriptors.js';
import { retentionAllowsDeleting, type RetentionPolicy } from './retention.js';
import {
  cachedSize,
  decodeBody,
  encodeRecord,
  RECORD_HEADER_BYTES,
  type StoredMessage,
} from './record-codec.js';
import { Segment } from './segment.js';

export interface MessageLogOptions {
  readonly fsync: boolean;
  /** A segment larger than this is closed for writing and the next append starts a new ledger. */
  readonly maxSegmentBytes: number;
  /** A segment with this many entries is closed too (Pulsar's `managedLedgerMaxEntriesPerLedger`). */
  readonly maxEntriesPerSegment: number;
  /** Upper bound of decoded messages kept in memory for readers. */
  readonly cacheBytes: number;
  readonly logger: Logger;
}

/** A stored entry with its position. */
export interface LogEntry {
  readonly ordinal: number;
  readonly ledgerId: number;
  readonly entryId: number;
  readonly message: StoredMessage;
}

/** Where an appended message landed. */
export interface AppendResult {
  readonly ordinal: number;
  readonly ledgerId: number;
  readonly entryId: number;
}

interface PendingAppend {
  readonly record: Buffer;
  readonly message: StoredMessage;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: Error) => void;
}

const SEGMENT_FILE = /^ledger-(\d+)\.log$/;
const MAX_BATCH_RECORDS = 4096;
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

export class LogFailedError extends Error {
  override readonly name = 'LogFailedError';
}

/** A read of an entry that retention deleted. */
export class EntryDeletedError extends Error {
  override readonly name = 'EntryDeletedError';
}

export class MessageLog extends EventEmitter<{ appended: [] }> {
  private readonly segments: Segment[] = [];
  /** Ordinal of each segment's first entry, parallel to `segments`. */
  private readonly baseOrdinals: number[] = [];
  private readonly segmentByLedger = new Map<number, number>();
  /** Index of the first segment whose file still exists (earlier ones were deleted by retention). */
  private firstLive = 0;
  private trimming = false;
  private writable: Segment | undefined;
  private queue: PendingAppend[] = [];
  private flushing = false;
  private failure: Error | undefined;
  private readonly cache = new Map<number, StoredMessage>();
  private cacheUsed = 0;
  private count = 0;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => undefined;

  private constructor(
    private readonly dir: string,
    private readonly ledgerIds: LedgerIdAllocator,
    private readonly options: MessageLogOptions,
  ) {
    super();
  }

  /** Opens (or creates) the log in `dir`, recovering every segment found there. */
  static async open(
    dir: string,
    ledgerIds: LedgerIdAllocator,
    options: MessageLogOptions,
  ): Promise<MessageLog> {
    await mkdir(dir, { recursive: true });
    const log = new MessageLog(dir, ledgerIds, options);
    const ledgers = (await readdir(dir))
      .map((name) => SEGMENT_FILE.exec(name)?.[1])
      .filter((id): id is string => id !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const ledgerId of ledgers) {
      const path = join(dir, `ledger-${ledgerId}.log`);
      const { segment, recovery } = await Segment.open(path, ledgerId);
      if (recovery.truncatedBytes > 0) {
        options.logger.warn(
          { path, truncatedBytes: recovery.truncatedBytes },
          'cut a torn record left by a crash',
        );
      }
      log.addSegment(segment);
    }
    // Like a Pulsar topic reloaded by a broker, new messages go to a new ledger.
    return log;
  }

  private addSegment(segment: Segment): void {
    this.segmentByLedger.set(segment.ledgerId, this.segments.length);
    this.segments.push(segment);
    this.baseOrdinals.push(this.count);
    this.count += segment.entryCount;
  }

  /** Number of durable entries (the ordinal the next append gets). */
  get length(): number {
    return this.count;
  }

  /** Ordinal of the first entry still stored; entries before it were deleted by retention. */
  get firstOrdinal(): number {
    return this.baseOrdinals[this.firstLive] ?? this.count;
  }

  /** Bytes of the segment files still on disk. */
  get storedBytes(): number {
    let bytes = 0;
    for (let index = this.firstLive; index < this.segments.length; index++) {
      bytes += this.segments[index]?.byteSize ?? 0;
    }
    return bytes;
  }

  /**
   * Appends a message. Resolves once it is durable, in append order; the entry is readable from then on.
   * @throws LogFailedError after a write error: the log refuses further appends.
   */
  append(message: StoredMessage): Promise<AppendResult> {
    if (this.failure !== undefined) {
      return Promise.reject(
        new LogFailedError(`topic log is unavailable: ${this.failure.message}`, { cause: this.failure }),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ record: encodeRecord(message), message, resolve, reject });
      if (!this.flushing) this.startFlushing();
    });
  }

  /** Resolves when every append issued so far has completed. */
  drained(): Promise<void> {
    return this.flushing ? this.idle : Promise.resolve();
  }

  private startFlushing(): void {
    this.flushing = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    void this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        try {
          await this.writeBatch(batch);
        } catch (error) {
          this.fail(error as Error, batch);
        }
      }
    } finally {
      this.flushing = false;
      this.markIdle();
    }
  }

  private takeBatch(): PendingAppend[] {
    let bytes = 0;
    let take = 0;
    // A batch goes to one segment, so it stops where that segment is full of entries.
    const limit = Math.min(MAX_BATCH_RECORDS, this.roomInSegment());
    while (take < this.queue.length && take < limit && bytes < MAX_BATCH_BYTES) {
      bytes += this.queue[take]?.record.length ?? 0;
      take++;
    }
    const batch = this.queue.slice(0, take);
    this.queue = this.queue.slice(take);
    return batch;
  }

  private get writableIsFull(): boolean {
    return (
      this.writable === undefined ||
      this.writable.byteSize >= this.options.maxSegmentBytes ||
      this.writable.entryCount >= this.options.maxEntriesPerSegment
    );
  }

  /** Entries the next batch may hold: what the current segment has room for, or a new one's. */
  private roomInSegment(): number {
    const { maxEntriesPerSegment } = this.options;
    return this.writableIsFull
      ? maxEntriesPerSegment
      : maxEntriesPerSegment - (this.writable?.entryCount ?? 0);
  }

  private async writableSegment(): Promise<Segment> {
    if (this.writableIsFull || this.writable === undefined) {
      const ledgerId = await this.ledgerIds.allocate();
      const segment = await Segment.create(join(this.dir, `ledger-${ledgerId}.log`), ledgerId);
      this.addSegment(segment);
      this.writable = segment;
    }
    return this.writable;
  }

  private async writeBatch(batch: readonly PendingAppend[]): Promise<void> {
    let segment: Segment;
    try {
      segment = await this.writableSegment();
    } catch (error) {
      // Nothing was written, so the log stays usable: only this batch fails (e.g. EMFILE while the
      // process is out of descriptors), and the next append tries again.
      if (!isOutOfDescriptors(error)) throw error;
      const failed = new LogFailedError(`failed to persist message: ${(error as Error).message}`, {
        cause: error,
      });
      for (const pending of batch) pending.reject(failed);
      return;
    }
    await segment.write(Buffer.concat(batch.map((pending) => pending.record)), this.options.fsync);
    const firstEntryId = segment.entryCount;
    segment.commit(batch.map((pending) => pending.record.length - RECORD_HEADER_BYTES));
    const firstOrdinal = this.count;
    this.count += batch.length;
    batch.forEach((pending, index) => {
      const ordinal = firstOrdinal + index;
      this.remember(ordinal, pending.message);
      pending.resolve({ ordinal, ledgerId: segment.ledgerId, entryId: firstEntryId + index });
    });
    this.emit('appended');
  }

  private fail(error: Error, batch: readonly PendingAppend[]): void {
    this.failure = error;
    this.options.logger.error(
      { err: error, dir: this.dir },
      'topic log write failed; refusing further appends',
    );
    const failed = new LogFailedError(`failed to persist message: ${error.message}`, { cause: error });
    for (const pending of [...batch, ...this.queue]) pending.reject(failed);
    this.queue = [];
  }

  private remember(ordinal: number, message: StoredMessage): void {
    this.cache.set(ordinal, message);
    this.cacheUsed += cachedSize(message);
    for (const [oldest, cached] of this.cache) {
      if (this.cacheUsed <= this.options.cacheBytes) break;
      this.cache.delete(oldest);
      this.cacheUsed -= cachedSize(cached);
    }
  }

  private segmentIndexOf(ordinal: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.baseOrdinals[mid] ?? 0) <= ordinal) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  /** The message id position of an ordinal. */
  positionOf(ordinal: number): { ledgerId: number; entryId: number } {
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= this.count) {
      throw new RangeError(`ordinal ${ordinal} is outside the log (length ${this.count})`);
    }
    const index = this.segmentIndexOf(ordinal);
    const segment = this.segments[index];
    if (segment === undefined) throw new RangeError(`no segment for ordinal ${ordinal}`);
    return { ledgerId: segment.ledgerId, entryId: ordinal - (this.baseOrdinals[index] ?? 0) };
  }

  /** The ordinal of an exact message id, or undefined when no such entry exists. */
  ordinalOf(id: Pick<MessageIdData, 'ledgerId' | 'entryId'>): number | undefined {
    const index = this.segmentByLedger.get(id.ledgerId);
    if (index === undefined) return undefined;
    const segment = this.segments[index];
    if (segment === undefined || id.entryId < 0 || id.entryId >= segment.entryCount) return undefined;
    return (this.baseOrdinals[index] ?? 0) + id.entryId;
  }

  /** The first ordinal whose id orders after `id` (exclusive start of a reader). */
  firstOrdinalAfter(id: Pick<MessageIdData, 'ledgerId' | 'entryId'>): number {
    for (let index = 0; index < this.segments.length; index++) {
      const segment = this.segments[index];
      const base = this.baseOrdinals[index] ?? 0;
      if (segment === undefined || segment.ledgerId < id.ledgerId) continue;
      if (segment.ledgerId > id.ledgerId) return base;
      return base + Math.min(Math.max(id.entryId + 1, 0), segment.entryCount);
    }
    return this.count;
  }

  /** @throws EntryDeletedError for an entry retention deleted (below {@link firstOrdinal}). */
  async read(ordinal: number): Promise<LogEntry> {
    const { ledgerId, entryId } = this.positionOf(ordinal);
    if (ordinal < this.firstOrdinal) {
      throw new EntryDeletedError(`entry ${ledgerId}:${entryId} was deleted by retention`);
    }
    let message = this.cache.get(ordinal);
    if (message === undefined) {
      const segment = this.segments[this.segmentIndexOf(ordinal)];
      if (segment === undefined) throw new RangeError(`no segment for ordinal ${ordinal}`);
      message = decodeBody(await segment.readBody(entryId));
    }
    return { ordinal, ledgerId, entryId, message };
  }

  /**
   * Deletes the oldest segments whose entries all lie before `consumedBefore` (acknowledged by every
   * durable subscription) while `retention` lets them go. The segment being written is kept, as
   * Pulsar keeps its current ledger, unless `includeWritable` (the topic is being unloaded, which
   * closes that ledger). Returns the number of entries deleted.
   */
  async trim(
    consumedBefore: number,
    retention: RetentionPolicy,
    includeWritable = false,
    now = Date.now(),
  ): Promise<number> {
    if (this.trimming) return 0;
    this.trimming = true;
    let deleted = 0;
    try {
      let storedBytes = this.storedBytes;
      for (;;) {
        const segment = this.segments[this.firstLive];
        const base = this.baseOrdinals[this.firstLive] ?? 0;
        if (segment === undefined || base + segment.entryCount > consumedBefore) break;
        if (segment === this.writable && (!includeWritable || this.flushing)) break;
        if (!retentionAllowsDeleting(retention, segment.lastWriteAt, storedBytes, now)) break;
        // Readers see the entries as gone before the file is: a read never hits a closed handle.
        this.firstLive++;
        if (segment === this.writable) this.writable = undefined;
        this.forgetCachedBefore(base + segment.entryCount);
        storedBytes -= segment.byteSize;
        deleted += segment.entryCount;
        await segment.delete();
        this.options.logger.debug({ ledgerId: segment.ledgerId }, 'deleted a consumed ledger');
      }
    } finally {
      this.trimming = false;
    }
    return deleted;
  }

  private forgetCachedBefore(ordinal: number): void {
    // The cache is filled in append order, so its oldest keys come first.
    for (const [cachedOrdinal, message] of this.cache) {
      if (cachedOrdinal >= ordinal) break;
      this.cache.delete(cachedOrdinal);
      this.cacheUsed -= cachedSize(message);
    }
  }

  /** Waits for in-flight appends, then closes the segment files. */
  async close(): Promise<void> {
    await this.drained();
    await Promise.all(this.segments.map((segment) => segment.close()));
  }
}

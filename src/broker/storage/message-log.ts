/**
 * A persistent topic's message log: ledger segments on disk, appended with group commit, read
 * through a bounded cache (read-cache.ts) filled while the topic has readers attached. Entries are
 * addressed by ordinal (0..length-1 across all segments), which map one-to-one to message ids
 * (ledgerId, entryId) through the segment index (segment-index.ts).
 *
 * Durability: an append resolves only after its record is written and, with `fsync: true`, on the
 * disk (a synchronous write, see segment.ts). Appends that arrive while a write is in progress share
 * the next write (group commit, commit-queue.ts), so a pipelining producer pays for one sync per
 * batch, not per message.
 *
 * Write failures (a full disk above all) fail the batch being written and every append queued behind
 * it, so nothing is stored after a message that was not; the log stays open, and the next append
 * tries again. The failed batch is cut from its ledger so it never reappears (see `recoverFromFailedWrite`).
 */
import { EventEmitter } from 'node:events';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { MessageIdData } from '../../protocol/index.js';
import { CommitQueue, type Commit } from './commit-queue.js';
import type { LedgerIdAllocator } from './ledger-ids.js';
import { ReadAhead, RUN_BYTES, RUN_ENTRIES } from './read-ahead.js';
import { ReadCache } from './read-cache.js';
import { retentionAllowsDeleting, type RetentionPolicy } from './retention.js';
import {
  decodeBody,
  encodeRecord,
  payloadOfRecord,
  RECORD_HEADER_BYTES,
  stampChecksum,
  type StoredMessage,
} from './record-codec.js';
import { CorruptEntryError, EntryDeletedError, LogFailedError } from './log-errors.js';
import { reportRecovery } from './recovery-report.js';
import { Segment } from './segment.js';
import { SegmentIndex } from './segment-index.js';

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

interface PendingAppend extends Commit {
  readonly message: StoredMessage;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: Error) => void;
}

const SEGMENT_FILE = /^ledger-(\d+)\.log$/;
/** Write errors after which the same ledger takes the next batch once the failed one is cut. */
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

export class MessageLog extends EventEmitter<{ appended: [] }> {
  private readonly segments = new SegmentIndex();
  private trimming = false;
  private writable: Segment | undefined;
  private readonly commits: CommitQueue<PendingAppend> = new CommitQueue({
    room: () => this.roomInSegment(),
    write: (batch) => this.writeBatch(batch),
    fail: (error, batch, behind) => this.failBatch(error, batch, behind),
  });
  /** True from a failed write until the next one succeeds: repeated failures are logged quietly. */
  private failing = false;
  /** Ledgers whose failed write could not be cut and whose seal is not recorded yet. */
  private unsealed: Segment[] = [];
  /** Damaged entries already reported at read time (bounded by what recovery found). */
  private readonly reportedDamage = new Set<number>();
  private readonly cache: ReadCache;
  /** Runs of entries read from disk ahead of the one asked for (bounded, see read-ahead.ts). */
  private readonly readAhead = new ReadAhead();

  private constructor(
    private readonly dir: string,
    private readonly ledgerIds: LedgerIdAllocator,
    private readonly options: MessageLogOptions,
  ) {
    super();
    this.cache = new ReadCache(options.cacheBytes);
    // Every subscription and reader of the topic listens for appends: as many as it has, by design.
    this.setMaxListeners(0);
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
      reportRecovery(options.logger, segment, recovery);
      log.segments.add(segment);
    }
    // Like a Pulsar topic reloaded by a broker, new messages go to a new ledger.
    return log;
  }

  /** Number of durable entries (the ordinal the next append gets). */
  get length(): number {
    return this.segments.length;
  }

  /** Ordinal of the first entry still stored; entries before it were deleted by retention. */
  get firstOrdinal(): number {
    return this.segments.firstOrdinal;
  }

  /**
   * Where the oldest stored segment ends (the ordinal after its last entry) when it is closed for
   * writing, so retention could delete it once that much is consumed; undefined when it is the segment
   * being written (or there is none). A cheap test before a trim, which reads the disk.
   */
  get oldestClosedSegmentEnd(): number | undefined {
    const oldest = this.segments.oldest;
    if (oldest === undefined || oldest.segment === this.writable) return undefined;
    return oldest.base + oldest.segment.entryCount;
  }

  /** Bytes of the segment files still on disk. */
  get storedBytes(): number {
    return this.segments.storedBytes;
  }

  /**
   * Appends a message. Resolves once it is durable, in append order; the entry is readable from then on.
   * @throws LogFailedError when its write failed, or the write of an append before it (e.g. the disk
   * is full); appends after that are tried again.
   */
  append(message: StoredMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.commits.add({ record: encodeRecord(message), message, resolve, reject });
    });
  }

  /** Resolves when every append issued so far has completed. */
  drained(): Promise<void> {
    return this.commits.drained();
  }

  /**
   * Someone reads this log as it grows: a subscription with a consumer connected, or a reader. Only
   * then do appends fill the read cache (see ReadCache.readerAttached). Pair with `readerDetached`.
   */
  readerAttached(): void {
    this.cache.readerAttached();
  }

  /** The reader counted by `readerAttached` left; the last one to leave empties the cache. */
  readerDetached(): void {
    // An unpaired call is a bug in a caller, not a reason to stop a broker: said loudly.
    if (!this.cache.readerDetached()) this.options.logger.error('a reader of the log left twice');
  }

  /** Bytes of messages the read cache holds now (see ReadCache.bytes). */
  get cachedBytes(): number {
    return this.cache.bytes;
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
      if (this.writable !== undefined) await this.trimPreallocation(this.writable);
      const ledgerId = await this.ledgerIds.allocate();
      const segment = await Segment.create(
        join(this.dir, `ledger-${ledgerId}.log`),
        ledgerId,
        this.options.fsync,
      );
      this.segments.add(segment);
      this.writable = segment;
    }
    return this.writable;
  }

  private async writeBatch(batch: readonly PendingAppend[]): Promise<void> {
    // Nothing is written before these succeed, so a failure here leaves the ledgers as they were.
    if (this.unsealed.length > 0) await this.recordSeals();
    const segment = await this.writableSegment();
    const firstEntryId = segment.entryCount;
    batch.forEach((pending, index) => stampChecksum(pending.record, firstEntryId + index));
    try {
      await segment.write(batch.map((pending) => pending.record));
    } catch (error) {
      await this.recoverFromFailedWrite(segment, error as Error);
      throw error;
    }
    segment.commit(batch.map((pending) => pending.record.length - RECORD_HEADER_BYTES));
    const firstOrdinal = this.segments.grow(batch.length);
    batch.forEach((pending, index) => {
      const ordinal = firstOrdinal + index;
      // The cache keeps the payload as a view into the record (memory of its own, see encodeRecord).
      if (this.cache.filling) {
        this.cache.add(ordinal, { ...pending.message, payload: payloadOfRecord(pending.record) });
      }
      pending.resolve({ ordinal, ledgerId: segment.ledgerId, entryId: firstEntryId + index });
    });
    if (this.failing) {
      this.failing = false;
      this.options.logger.info({ ledgerId: segment.ledgerId }, 'topic log writes succeed again');
    }
    this.emit('appended');
    if (this.options.fsync && segment.wantsZerosAhead) await this.preallocate(segment);
  }

  /**
   * Writes zeros ahead of the ledger's end (see Segment.preallocate), after the batch's acks went
   * out. A failure (a full disk) costs only speed: it is logged once per ledger and the appends go on
   * growing the file.
   */
  private async preallocate(segment: Segment): Promise<void> {
    await segment.preallocate().catch((error: unknown) => {
      this.options.logger.warn(
        { err: error, ledgerId: segment.ledgerId },
        'could not write zeros ahead of the ledger; its appends grow the file instead',
      );
    });
  }

  /**
   * After a failed write, the bytes it left past the ledger's committed length (whole records among
   * them) must never be read back. They are cut off; after a full disk the same ledger goes on, after
   * any other error a new one starts, as BookKeeper starts a new ledger after a write error. When the
   * cut fails too, the ledger is sealed: never written again, and its committed length recorded beside
   * it for recovery. Until that record is on disk, every append fails (`recordSeals`), so a restart
   * never brings the failed records back once a later message was acknowledged.
   */
  private async recoverFromFailedWrite(segment: Segment, error: Error): Promise<void> {
    try {
      await segment.cut();
      if (!DISK_FULL.has((error as NodeJS.ErrnoException).code ?? '')) this.endWritable(segment);
      return;
    } catch (cutError) {
      this.options.logger.error(
        { err: cutError, ledgerId: segment.ledgerId, committedBytes: segment.byteSize },
        'cannot cut a failed write from its ledger; sealing the ledger at its committed length',
      );
    }
    this.endWritable(segment);
    this.unsealed.push(segment);
    await this.recordSeals().catch(() => undefined); // retried before the next write, which fails without it
  }

  private endWritable(segment: Segment): void {
    if (this.writable === segment) this.writable = undefined;
  }

  /** Records the seals still pending. @throws the first failure (the others stay pending too). */
  private async recordSeals(): Promise<void> {
    while (this.unsealed.length > 0) {
      const segment = this.unsealed[0];
      if (segment !== undefined && !segment.deleted) {
        try {
          await segment.seal();
        } catch (error) {
          throw new Error(
            `cannot record the end of ledger ${segment.ledgerId} after a failed write: ${describeIoError(error)}`,
            { cause: error },
          );
        }
        this.options.logger.warn(
          { ledgerId: segment.ledgerId, committedBytes: segment.byteSize },
          'ledger sealed after a failed write; new messages go to a new ledger',
        );
      }
      this.unsealed.shift();
    }
  }

  /** Fails `batch` and everything queued behind it, so nothing is stored after a message that was not. */
  private failBatch(error: Error, batch: readonly PendingAppend[], queued: readonly PendingAppend[]): void {
    const cause = describeIoError(error);
    const level = this.failing ? 'debug' : 'error';
    this.failing = true;
    this.options.logger[level](
      { err: error, failed: batch.length, queuedBehind: queued.length },
      'topic log write failed; the next append tries again',
    );
    const failed = new LogFailedError(`failed to persist message: ${cause}`, { cause: error });
    for (const pending of batch) pending.reject(failed);
    const behind = new LogFailedError(
      `message not stored: the write of an earlier message of this topic failed (${cause})`,
      { cause: error },
    );
    for (const pending of queued) pending.reject(behind);
  }

  /** The message id position of an ordinal. @throws RangeError outside the log */
  positionOf(ordinal: number): { ledgerId: number; entryId: number } {
    const { ledgerId, entryId } = this.segments.locate(ordinal);
    return { ledgerId, entryId };
  }

  /** The ordinal of an exact message id, or undefined when no such entry exists. */
  ordinalOf(id: Pick<MessageIdData, 'ledgerId' | 'entryId'>): number | undefined {
    return this.segments.ordinalOf(id);
  }

  /** The first ordinal whose id orders after `id` (exclusive start of a reader). */
  firstOrdinalAfter(id: Pick<MessageIdData, 'ledgerId' | 'entryId'>): number {
    return this.segments.firstOrdinalAfter(id);
  }

  /**
   * @throws EntryDeletedError for an entry retention deleted (below {@link firstOrdinal}), and its
   * subclass CorruptEntryError for one recovery found damaged.
   */
  async read(ordinal: number): Promise<LogEntry> {
    const { segment, ledgerId, entryId } = this.segments.locate(ordinal);
    if (ordinal < this.firstOrdinal) {
      throw new EntryDeletedError(`entry ${ledgerId}:${entryId} was deleted by retention`);
    }
    let message = this.cache.get(ordinal) ?? this.readAhead.get(ordinal);
    if (message === undefined) {
      if (segment.isDamaged(entryId)) throw this.damaged(ordinal, ledgerId, entryId);
      // Readers behind the cache read in order: one read serves the next deliveries too.
      const messages = (await segment.readBodies(entryId, RUN_ENTRIES, RUN_BYTES)).map(decodeBody);
      this.readAhead.add(ordinal, messages);
      const [first] = messages;
      if (first === undefined) throw new RangeError(`no entry ${ledgerId}:${entryId}`);
      message = first;
    }
    return { ordinal, ledgerId, entryId, message };
  }

  private damaged(ordinal: number, ledgerId: number, entryId: number): CorruptEntryError {
    if (!this.reportedDamage.has(ordinal)) {
      this.reportedDamage.add(ordinal);
      this.options.logger.error(
        { ledgerId, entryId },
        'skipping a damaged entry: its message cannot be delivered',
      );
    }
    return new CorruptEntryError(`entry ${ledgerId}:${entryId} is damaged on disk`);
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
        const oldest = this.segments.oldest;
        if (oldest === undefined) break;
        const { segment, base } = oldest;
        if (base + segment.entryCount > consumedBefore) break;
        if (segment === this.writable && (!includeWritable || this.commits.busy)) break;
        if (!retentionAllowsDeleting(retention, segment.lastWriteAt, storedBytes, now)) break;
        // Readers see the entries as gone before the file is: a read never hits a closed handle.
        this.segments.dropOldest();
        if (segment === this.writable) this.writable = undefined;
        this.cache.forgetBefore(base + segment.entryCount);
        this.readAhead.forgetBefore(base + segment.entryCount);
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

  /** Waits for in-flight appends, then closes the segment files. */
  async close(): Promise<void> {
    await this.drained();
    await this.recordSeals().catch((error: unknown) => {
      // Nothing was acknowledged after the failed write, so a restart can at worst bring back
      // messages whose publishes were answered with an error (which clients resend anyway).
      this.options.logger.error({ err: error }, 'closing with a ledger seal not recorded');
    });
    if (this.writable !== undefined) await this.trimPreallocation(this.writable);
    await Promise.all(this.segments.all.map((segment) => segment.close()));
  }

  /**
   * Cuts the zeros written ahead of a ledger that is written no more. A failure costs only disk
   * space until the next start, whose recovery cuts them: it is logged, and the write goes on.
   */
  private async trimPreallocation(segment: Segment): Promise<void> {
    await segment.trimPreallocation().catch((error: unknown) => {
      this.options.logger.warn(
        { err: error, ledgerId: segment.ledgerId },
        'could not cut the zeros written ahead of a full ledger (recovery cuts them at the next start)',
      );
    });
  }
}

/** An I/O error as a client may see it: its code and text, without the file path. */
function describeIoError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === undefined) return message;
  const comma = message.indexOf(', ');
  return comma < 0 ? message : message.slice(0, comma);
}

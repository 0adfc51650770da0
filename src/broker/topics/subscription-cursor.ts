/**
 * The acknowledged state of a durable subscription: a fully-acked prefix of the log plus individually
 * acked entries after it, kept as ranges (as Pulsar's individually deleted messages), persisted
 * through a CursorStore (snapshot + ack journal).
 *
 * Bounds: memory grows with the gaps between acked entries, not with acks; a snapshot holds at most
 * {@link MAX_PERSISTED_RANGES} ranges (Pulsar's `managedLedgerMaxUnackedRangesToPersist`): acks in
 * ranges beyond it are not persisted at compaction, so after a restart those messages are delivered
 * again (at-least-once, as in Pulsar).
 */
import type { Logger } from 'pino';
import type { InitialPosition } from '../../protocol/index.js';
import type { CursorPersistence, CursorSnapshot, Position } from '../storage/cursor-store.js';
import type { MessageLog } from '../storage/message-log.js';
import { OrdinalRanges } from './ordinal-ranges.js';

/** Pulsar's `managedLedgerMaxUnackedRangesToPersist`. */
export const MAX_PERSISTED_RANGES = 10_000;

export class SubscriptionCursor {
  /** Entries with ordinal < ackedPrefix are all acknowledged. */
  private ackedPrefix = 0;
  /** Acknowledged ordinals >= ackedPrefix. */
  private readonly acked = new OrdinalRanges();
  private compacting = false;

  private constructor(
    private readonly name: string,
    private readonly log: MessageLog,
    private readonly store: CursorPersistence,
    private readonly logger: Logger,
  ) {}

  /** Loads the cursor, creating it at `initialPosition` when the subscription is new. */
  static async open(
    name: string,
    log: MessageLog,
    store: CursorPersistence,
    logger: Logger,
    initialPosition: InitialPosition,
  ): Promise<SubscriptionCursor> {
    const cursor = new SubscriptionCursor(name, log, store, logger);
    const stored = await store.load();
    if (stored === undefined) {
      const markDelete =
        initialPosition === 'Latest' && log.length > 0 ? log.positionOf(log.length - 1) : null;
      cursor.restore({ markDelete, acked: [] });
    } else {
      cursor.restore(stored);
    }
    // A new subscription is persisted before its consumer is accepted; a loaded one is compacted.
    await store.saveSnapshot(() => cursor.snapshot());
    return cursor;
  }

  private restore(snapshot: CursorSnapshot): void {
    // What retention deleted is gone for every subscription: a new `Earliest` one starts at the first
    // entry still stored, as Pulsar's does.
    this.ackedPrefix = Math.max(
      this.log.firstOrdinal,
      snapshot.markDelete === null ? 0 : this.log.firstOrdinalAfter(snapshot.markDelete),
    );
    for (const [first, last] of snapshot.ackedRanges ?? []) {
      const start = this.log.ordinalOf(first);
      const end = this.log.ordinalOf(last);
      if (start === undefined || end === undefined) continue;
      this.acked.addRange(Math.max(start, this.ackedPrefix), end + 1);
    }
    for (const position of snapshot.acked) {
      const ordinal = this.log.ordinalOf(position);
      if (ordinal !== undefined && ordinal >= this.ackedPrefix) this.acked.add(ordinal);
    }
    this.advancePrefix();
  }

  private snapshot(): CursorSnapshot {
    const ackedRanges: [Position, Position][] = [];
    for (const [first, last] of this.acked.closedRanges()) {
      if (ackedRanges.length >= MAX_PERSISTED_RANGES) break;
      ackedRanges.push([this.log.positionOf(first), this.log.positionOf(last)]);
    }
    return {
      markDelete: this.ackedPrefix > 0 ? this.log.positionOf(this.ackedPrefix - 1) : null,
      ackedRanges,
      acked: [],
    };
  }

  private advancePrefix(): void {
    this.ackedPrefix = this.acked.takeRangeAt(this.ackedPrefix) ?? this.ackedPrefix;
  }

  /** The first ordinal that is not acknowledged (or still stored, for a NonDurable cursor). */
  get firstUnacked(): number {
    this.skipDeleted();
    return this.ackedPrefix;
  }

  /** Entries not yet acknowledged (the subscription's backlog). */
  get backlog(): number {
    this.skipDeleted();
    return Math.max(0, this.log.length - this.ackedPrefix - this.acked.size);
  }

  /**
   * A NonDurable cursor does not hold retention back, so entries it had not acknowledged may be
   * deleted; they count as consumed. (A durable cursor is never behind `firstOrdinal`.)
   */
  private skipDeleted(): void {
    const first = this.log.firstOrdinal;
    if (this.ackedPrefix >= first) return;
    this.acked.deleteBelow(first);
    this.ackedPrefix = first;
    this.advancePrefix();
  }

  isAcked(ordinal: number): boolean {
    return ordinal < this.ackedPrefix || ordinal < this.log.firstOrdinal || this.acked.has(ordinal);
  }

  /** Acknowledged entries from `firstUnacked` up to `ordinal` (excluded). */
  ackedBelow(ordinal: number): number {
    return this.acked.countBelow(ordinal);
  }

  /** Records an ack; returns the ordinal, or undefined for an unknown or already acked position. */
  acknowledge(position: Position): number | undefined {
    const ordinal = this.log.ordinalOf(position);
    if (ordinal === undefined || this.isAcked(ordinal)) return undefined;
    // In-order acks (the usual case) only move the prefix on.
    if (ordinal === this.ackedPrefix) this.ackedPrefix++;
    else this.acked.add(ordinal);
    this.advancePrefix();
    this.store.recordAck(position);
    if (this.store.wantsCompaction && !this.compacting) this.compact();
    return ordinal;
  }

  private compact(): void {
    this.compacting = true;
    this.store
      .saveSnapshot(() => this.snapshot())
      .catch((error: unknown) => {
        // The journal still holds every ack, so a failed compaction loses nothing; it is retried later.
        // While the journal itself is failing (a full disk), the store already said so once.
        const level = this.store.needsSnapshot ? 'debug' : 'error';
        this.logger[level]({ err: error, subscription: this.name }, 'cursor compaction failed');
      })
      .finally(() => (this.compacting = false));
  }

  /** Resolves once every ack received so far is on disk. */
  flushed(): Promise<void> {
    return this.store.flushed();
  }

  /** Flushes the journal; acks held in memory only after a failed write get one more try. */
  async close(): Promise<void> {
    if (this.store.needsSnapshot) {
      await this.store
        .saveSnapshot(() => this.snapshot())
        .catch((error: unknown) => {
          // Nothing more to try: these acks are redelivered after a restart, as the log said.
          this.logger.error({ err: error, subscription: this.name }, 'cursor snapshot at close failed');
        });
    }
    await this.store.close();
  }

  delete(): Promise<void> {
    return this.store.delete();
  }
}

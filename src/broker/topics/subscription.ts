/**
 * A durable subscription's dispatch: which consumers are attached and which of them gets the next
 * message, by subscription type (docs/protocol.md §4.1, §4.5):
 *
 * - Exclusive: one consumer; another is refused (409).
 * - Failover: many consumers, one active (chosen as Pulsar does, see failover.ts); when the active
 *   one changes, dispatch rewinds so the new one gets everything unacknowledged.
 * - Shared: every consumer gets the next available message; messages of a closed consumer, negative
 *   acks and ack timeouts are replayed, the latter two with `redeliveryCount` + 1.
 * - Key_Shared: like Shared, but every key sticks to one consumer, as Pulsar 4.0's AUTO_SPLIT mode
 *   assigns keys (consistent hashing, see key-shared.ts; the policy is key-shared-picker.ts); a key
 *   that moves to another consumer waits until the messages of it the previous one holds are
 *   acknowledged.
 *
 * Consumers of another type than the connected ones are refused (409), as in Pulsar.
 *
 * Bounds (docs/broker.md, "Memory"): acknowledged entries are ranges (subscription-cursor.ts); entries
 * to replay are ranges too; Shared and Key_Shared track what each consumer holds unacknowledged, up
 * to Pulsar's limits (unacked-messages.ts); Exclusive and Failover keep no per-message state: what
 * was dispatched is the span from the first unacknowledged entry to the read position.
 */
import type { Logger } from 'pino';
import type { InitialPosition, SubscriptionType, TopicName } from '../../protocol/index.js';
import type { CursorPersistence, Position } from '../storage/cursor-store.js';
import { CorruptEntryError, EntryDeletedError } from '../storage/log-errors.js';
import type { LogEntry, MessageLog } from '../storage/message-log.js';
import { DelayedDeliveries } from './delayed-deliveries.js';
import { failoverActive } from './failover.js';
import { KeySharedPicker } from './key-shared-picker.js';
import { OrdinalRanges } from './ordinal-ranges.js';
import { Signal } from './signal.js';
import { SubscriptionCursor } from './subscription-cursor.js';
import { UnackedMessages } from './unacked-messages.js';

/** The consumer side as the subscription sees it. */
export interface SubscriptionConsumer {
  readonly id: number;
  readonly name: string;
  readonly priorityLevel: number;
}

/** A delivery: the entry and how often it was redelivered before. */
export interface Delivery {
  readonly entry: LogEntry;
  readonly redeliveryCount: number;
}

export class ConsumerBusyError extends Error {
  override readonly name = 'ConsumerBusyError';
}

/** How far Key_Shared looks past messages whose key belongs to a busy consumer. */
const KEY_SHARED_LOOKAHEAD = 1000;

export class Subscription {
  private type: SubscriptionType | undefined;
  private consumers: SubscriptionConsumer[] = [];
  /** Next entry never dispatched since the last rewind. */
  private readPosition: number;
  /** Exclusive's only consumer, or Failover's active one: computed when consumers join or leave. */
  private active: SubscriptionConsumer | undefined;
  /** Entries to dispatch again before new ones (Shared, Key_Shared). */
  private readonly replay = new OrdinalRanges();
  /** Shared/Key_Shared: dispatched, not yet acknowledged: who has them, within Pulsar's limits. */
  private readonly pending = new UnackedMessages<SubscriptionConsumer>();
  /** Shared/Key_Shared only: how often an entry was redelivered (negative ack, ack timeout). */
  private readonly redeliveryCounts = new Map<number, number>();
  /** Shared/Key_Shared: entries held back until their `deliverAt` (delayed delivery). */
  private readonly delayed = new DelayedDeliveries((ordinals) => {
    for (const ordinal of ordinals) this.replay.add(ordinal);
    this.changed.notify();
  });
  /**
   * Entries that cannot be read (damaged on disk, see CorruptEntryError): skipped by dispatch, never
   * acknowledged. As many as recovery found damaged, which is none on a healthy disk.
   */
  private readonly unreadable = new OrdinalRanges();
  /** Key_Shared: which consumer may take which entry, by the slot of its key. */
  private readonly keyShared: KeySharedPicker<SubscriptionConsumer>;
  /** What a Key_Shared pick asks of this subscription. */
  private readonly keySharedChecks = {
    isAvailable: (ordinal: number) => this.isAvailable(ordinal),
    isAttached: (consumer: SubscriptionConsumer) => this.consumers.includes(consumer),
    markUnreadable: (ordinal: number) => this.unreadable.add(ordinal),
    claim: (ordinal: number, consumer: SubscriptionConsumer) => this.claim(ordinal, consumer),
  };
  private readonly changed = new Signal();
  private readonly onAppended = (): void => this.changed.notify();
  private readonly timers = new Set<NodeJS.Timeout>();
  private deleted = false;
  /** Whether this subscription counts as a reader of the log (it has consumers, see `syncReading`). */
  private readingLog = false;
  /**
   * Called with the new first unacknowledged entry when it moves on (the topic may trim consumed
   * segments).
   */
  onConsumed: (firstUnacked: number) => void = () => undefined;

  private constructor(
    readonly name: string,
    /** The topic (a partition's own name and index): Failover picks its active consumer by it. */
    private readonly topic: TopicName,
    private readonly log: MessageLog,
    private readonly cursor: SubscriptionCursor,
    /** Given for a NonDurable subscription, which goes away with its last consumer. */
    private readonly onEmpty: (() => void) | undefined,
  ) {
    this.readPosition = cursor.firstUnacked;
    this.keyShared = new KeySharedPicker(log);
    log.on('appended', this.onAppended);
  }

  static async open(
    name: string,
    topic: TopicName,
    log: MessageLog,
    store: CursorPersistence,
    logger: Logger,
    initialPosition: InitialPosition,
    onEmpty?: () => void,
  ): Promise<Subscription> {
    const cursor = await SubscriptionCursor.open(name, log, store, logger, initialPosition);
    return new Subscription(name, topic, log, cursor, onEmpty);
  }

  /** False for a NonDurable subscription. */
  get durable(): boolean {
    return this.onEmpty === undefined;
  }

  private get isSingleActive(): boolean {
    return this.type === 'Exclusive' || this.type === 'Failover';
  }

  /**
   * Exclusive's only consumer, or Failover's active one as Pulsar picks it (see failover.ts). Called
   * when the consumers change, never per message: the choice sorts the consumers and builds a ring.
   */
  private updateActive(): void {
    this.active = this.isSingleActive
      ? failoverActive(this.consumers, this.topic.fullName, this.topic.partitionIndex)
      : undefined;
  }

  /**
   * Attaches a consumer of `type`.
   * @throws ConsumerBusyError (HTTP 409) for a second Exclusive consumer or a type mismatch.
   */
  attach(consumer: SubscriptionConsumer, type: SubscriptionType): void {
    if (this.deleted) throw new ConsumerBusyError(`Subscription ${this.name} was deleted`);
    if (this.consumers.length > 0 && this.type !== type) {
      throw new ConsumerBusyError(
        `Subscription is of different type. Active subscription type of '${this.type}' is different than the connecting consumer's type '${type}'.`,
      );
    }
    if (type === 'Exclusive' && this.consumers.length > 0) {
      throw new ConsumerBusyError('Exclusive consumer is already connected');
    }
    const activeBefore = this.active;
    this.type = type;
    this.consumers.push(consumer);
    this.keyShared.join(consumer);
    this.updateActive();
    this.syncReading();
    if (type === 'Failover' && activeBefore !== undefined && this.active !== activeBefore) this.rewind();
    this.changed.notify();
  }

  /** Replaces the consumer that reserved its place during a handshake by the live one. */
  handOver(from: SubscriptionConsumer, to: SubscriptionConsumer): void {
    const index = this.consumers.indexOf(from);
    if (index < 0) throw new ConsumerBusyError(`Subscription ${this.name} is not held by the handshake`);
    this.consumers[index] = to;
    this.keyShared.replace(from, to);
    this.updateActive();
    this.pending.replace(from, to);
  }

  /** Detaches a consumer; what it was sent but did not acknowledge is delivered again. */
  detach(consumer: SubscriptionConsumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index < 0) return;
    const activeBefore = this.active;
    this.consumers.splice(index, 1);
    this.keyShared.leave(consumer);
    this.updateActive();
    this.syncReading();
    if (this.consumers.length === 0 && this.onEmpty !== undefined) {
      this.deleted = true;
      this.stop();
      this.onEmpty();
      return;
    }
    if (this.isSingleActive) {
      if (activeBefore === consumer) this.rewind();
    } else {
      // Pulsar replays a closed Shared consumer's messages without counting a redelivery.
      for (const ordinal of this.pending.heldBy(consumer)) {
        this.unclaim(ordinal);
        this.replay.add(ordinal);
      }
      this.pending.forget(consumer);
    }
    this.changed.notify();
  }

  /** Dispatch starts again at the first unacknowledged entry (Pulsar's cursor rewind). */
  private rewind(): void {
    this.readPosition = this.cursor.firstUnacked;
    this.replay.clear();
    this.pending.clear();
    this.keyShared.rewound();
    this.changed.notify();
  }

  /** The next entry for `consumer`, waiting for one if needed; null once it is detached. */
  async next(consumer: SubscriptionConsumer): Promise<Delivery | null> {
    for (;;) {
      if (!this.consumers.includes(consumer)) return null;
      const ordinal = this.type === 'Key_Shared' ? await this.pickByKey(consumer) : this.pick(consumer);
      if (ordinal !== undefined) {
        let entry: LogEntry;
        try {
          entry = this.keyShared.takeRead(ordinal) ?? (await this.log.read(ordinal));
        } catch (error) {
          // Retention deleted it meanwhile (only possible for what no durable cursor needs), or it is
          // damaged on disk: skipped, and never picked again.
          if (!(error instanceof EntryDeletedError)) throw error;
          this.unclaim(ordinal);
          if (error instanceof CorruptEntryError) this.unreadable.add(ordinal);
          continue;
        }
        if (this.holdIfDelayed(entry)) continue;
        return { entry, redeliveryCount: this.redeliveryCounts.get(ordinal) ?? 0 };
      }
      await this.changed.wait();
    }
  }

  /**
   * Delayed delivery applies to Shared and Key_Shared subscriptions only, as in Pulsar: an entry whose
   * `deliverAt` is still ahead goes back (unclaimed) and is replayed when its time comes.
   */
  private holdIfDelayed(entry: LogEntry): boolean {
    const { deliverAt } = entry.message;
    if (this.isSingleActive || deliverAt === undefined || deliverAt <= Date.now()) return false;
    this.unclaim(entry.ordinal);
    this.delayed.hold(entry.ordinal, deliverAt);
    return true;
  }

  /** Marks `ordinal` as dispatched to `consumer` (tracked per entry for Shared and Key_Shared only). */
  private claim(ordinal: number, consumer: SubscriptionConsumer): number {
    this.replay.delete(ordinal);
    if (this.isSingleActive) return ordinal;
    this.pending.claim(ordinal, consumer);
    this.keyShared.claimed(ordinal, consumer);
    return ordinal;
  }

  /** `ordinal` is no longer held by a consumer (acked, redelivered, held back). */
  private unclaim(ordinal: number): void {
    const { released, unblocked } = this.pending.release(ordinal);
    if (!released) return;
    this.keyShared.released(ordinal);
    if (unblocked) this.changed.notify();
  }

  private isAvailable(ordinal: number): boolean {
    return (
      !this.cursor.isAcked(ordinal) &&
      !this.pending.has(ordinal) &&
      !this.delayed.has(ordinal) &&
      (this.unreadable.size === 0 || !this.unreadable.has(ordinal))
    );
  }

  private skipDispatched(): void {
    this.readPosition = Math.max(this.readPosition, this.log.firstOrdinal);
    while (this.readPosition < this.log.length && !this.isAvailable(this.readPosition)) this.readPosition++;
  }

  /** The first entry to replay that is not acknowledged meanwhile. */
  private firstReplay(): number | undefined {
    for (let ordinal = this.replay.first(); ordinal !== undefined; ordinal = this.replay.first()) {
      if (!this.cursor.isAcked(ordinal)) return ordinal;
      this.replay.delete(ordinal);
    }
    return undefined;
  }

  /** Up to `limit` entries to replay, in order (Key_Shared's candidates). */
  private replayCandidates(limit: number): number[] {
    const candidates: number[] = [];
    for (const ordinal of this.replay.values()) {
      if (candidates.length >= limit) break;
      candidates.push(ordinal);
    }
    return candidates;
  }

  /** Exclusive, Failover, Shared: replayed entries first, then the next new one. */
  private pick(consumer: SubscriptionConsumer): number | undefined {
    if (this.isSingleActive) {
      if (this.active !== consumer) return undefined;
    } else {
      if (this.pending.isBlocked(consumer)) return undefined;
      const replayed = this.firstReplay();
      if (replayed !== undefined) return this.claim(replayed, consumer);
    }
    this.skipDispatched();
    return this.readPosition < this.log.length ? this.claim(this.readPosition++, consumer) : undefined;
  }

  /**
   * Key_Shared: the first replayed or new entry whose key this consumer owns (key-shared-picker.ts).
   * Entries of other consumers' keys stay where they are; the scan looks a bounded way ahead. Not an
   * async function itself: one promise per pick (the picker's), as this runs per message.
   */
  private pickByKey(consumer: SubscriptionConsumer): Promise<number | undefined> {
    if (this.pending.isBlocked(consumer)) return Promise.resolve(undefined);
    this.skipDispatched();
    return this.keyShared.pick(consumer, this.keySharedCandidates(), this.keySharedChecks);
  }

  /**
   * Key_Shared's candidates in order: entries to replay, then new ones up to the look-ahead. Generated
   * one at a time, so a pick that finds one early costs no more than that.
   */
  private *keySharedCandidates(): Generator<number> {
    // Copied first: the replay set changes while a candidate's key is read.
    yield* this.replayCandidates(KEY_SHARED_LOOKAHEAD);
    const start = this.readPosition;
    const limit = Math.min(this.log.length, start + KEY_SHARED_LOOKAHEAD);
    for (let ordinal = start; ordinal < limit; ordinal++) yield ordinal;
  }

  /** Individual ack. Unknown ids are ignored, as Pulsar's fire-and-forget acks are. */
  acknowledge(position: Position): void {
    if (this.deleted) return;
    const consumedBefore = this.cursor.firstUnacked;
    const ordinal = this.cursor.acknowledge(position);
    if (ordinal === undefined) return;
    if (this.cursor.firstUnacked > consumedBefore) this.onConsumed(this.cursor.firstUnacked);
    const heldSlot = this.keyShared.acknowledged(ordinal);
    this.unclaim(ordinal);
    this.replay.delete(ordinal);
    this.redeliveryCounts.delete(ordinal);
    // Key_Shared: the ack may end the draining of a key another consumer waits for.
    if (heldSlot) this.changed.notify();
  }

  /**
   * Redelivers what `consumer` did not acknowledge after `delayMillis` (negative ack, ack timeout).
   * Shared and Key_Shared redeliver those entries with a higher `redeliveryCount`; Exclusive and
   * Failover cannot redeliver single messages, so Pulsar's client rewinds instead.
   */
  redeliverLater(consumer: SubscriptionConsumer, positions: readonly Position[], delayMillis: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.consumers.includes(consumer)) return;
      if (this.isSingleActive) {
        if (this.active === consumer) this.rewind();
        return;
      }
      for (const position of positions) {
        const ordinal = this.log.ordinalOf(position);
        if (
          ordinal === undefined ||
          this.cursor.isAcked(ordinal) ||
          this.pending.ownerOf(ordinal) !== consumer
        )
          continue;
        this.unclaim(ordinal);
        this.redeliveryCounts.set(ordinal, (this.redeliveryCounts.get(ordinal) ?? 0) + 1);
        this.replay.add(ordinal);
      }
      this.changed.notify();
    }, delayMillis);
    this.timers.add(timer);
  }

  /** Resolves once every ack received so far is on disk. */
  flushed(): Promise<void> {
    return this.cursor.flushed();
  }

  /** What the admin API reports (a subset of Pulsar's subscription stats). */
  stats(): {
    type: SubscriptionType | undefined;
    isDurable: boolean;
    msgBacklog: number;
    /** Delivered and not yet acknowledged (nor nacked), as Pulsar counts them. */
    unackedMessages: number;
    consumers: { consumerName: string; unackedMessages: number }[];
  } {
    const unackedBy = this.pending.countsByConsumer();
    if (this.isSingleActive && this.active !== undefined) {
      // Dispatched since the first unacknowledged entry, less what was acknowledged of it.
      const first = this.cursor.firstUnacked;
      const dispatched = Math.max(0, this.readPosition - first);
      unackedBy.set(this.active, dispatched - this.cursor.ackedBelow(this.readPosition));
    }
    let unackedMessages = 0;
    for (const count of unackedBy.values()) unackedMessages += count;
    return {
      type: this.type,
      isDurable: this.durable,
      msgBacklog: this.cursor.backlog,
      unackedMessages,
      consumers: this.consumers.map((consumer) => ({
        consumerName: consumer.name,
        unackedMessages: unackedBy.get(consumer) ?? 0,
      })),
    };
  }

  /** Every entry before this one is acknowledged. */
  get firstUnacked(): number {
    return this.cursor.firstUnacked;
  }

  get isDeleted(): boolean {
    return this.deleted;
  }

  get hasConsumers(): boolean {
    return this.consumers.length > 0;
  }

  /** True when everything written so far has been dispatched. */
  get dispatchedAll(): boolean {
    return this.readPosition >= this.log.length && this.replay.size === 0 && this.delayed.size === 0;
  }

  /** Deletes the subscription and its files; attached consumers get nothing more. */
  async unsubscribe(): Promise<void> {
    this.deleted = true;
    this.consumers = [];
    this.keyShared.leaveAll();
    this.updateActive();
    this.syncReading();
    this.stop();
    await this.cursor.delete();
  }

  /**
   * Tells the log whether this subscription reads it as it grows (it does while it has consumers):
   * the log caches appends only while someone does (MessageLog.readerAttached).
   */
  private syncReading(): void {
    const reading = this.consumers.length > 0;
    if (reading === this.readingLog) return;
    this.readingLog = reading;
    if (reading) this.log.readerAttached();
    else this.log.readerDetached();
  }

  /** Stops timers and listeners. */
  private stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.delayed.clear();
    this.log.off('appended', this.onAppended);
    this.changed.notify();
  }

  /** Stops dispatch and flushes the acks received so far. */
  async close(): Promise<void> {
    this.stop();
    if (!this.deleted) await this.cursor.close();
  }
}

/**
 * A durable subscription: the acknowledged set (a fully-acked prefix plus individually acked entries
 * after it), the dispatch position, and the attached consumer. Only Exclusive dispatch is
 * implemented so far; the other types are refused at the handshake.
 */
import type { Logger } from 'pino';
import type { InitialPosition } from '../../protocol/index.js';
import type { CursorSnapshot, CursorStore, Position } from '../storage/cursor-store.js';
import type { LogEntry, MessageLog } from '../storage/message-log.js';
import { Signal } from './signal.js';

/** The consumer side as the subscription sees it. */
export interface SubscriptionConsumer {
  readonly id: number;
}

/** A delivery: the entry and how often it was redelivered before. */
export interface Delivery {
  readonly entry: LogEntry;
  readonly redeliveryCount: number;
}

export class ConsumerBusyError extends Error {
  override readonly name = 'ConsumerBusyError';
}

export class Subscription {
  /** Entries with ordinal < ackedPrefix are all acknowledged. */
  private ackedPrefix = 0;
  /** Acknowledged ordinals >= ackedPrefix. */
  private readonly acked = new Set<number>();
  private readPosition = 0;
  private consumer: SubscriptionConsumer | undefined;
  private readonly changed = new Signal();
  private readonly onAppended = (): void => this.changed.notify();
  private readonly redeliveryTimers = new Set<NodeJS.Timeout>();
  private compacting = false;
  private deleted = false;

  private constructor(
    readonly name: string,
    private readonly log: MessageLog,
    private readonly store: CursorStore,
    private readonly logger: Logger,
  ) {
    log.on('appended', this.onAppended);
  }

  /** Loads the subscription, or creates it at `initialPosition` when `create` allows; else undefined. */
  static async open(
    name: string,
    log: MessageLog,
    store: CursorStore,
    logger: Logger,
    initialPosition: InitialPosition,
  ): Promise<Subscription> {
    const subscription = new Subscription(name, log, store, logger);
    const stored = await store.load();
    if (stored === undefined) {
      const markDelete =
        initialPosition === 'Latest' && log.length > 0 ? log.positionOf(log.length - 1) : null;
      subscription.restore({ markDelete, acked: [] });
    } else {
      subscription.restore(stored);
    }
    // A new subscription is persisted before its consumer is accepted; a loaded one is compacted.
    await store.saveSnapshot(() => subscription.snapshot());
    return subscription;
  }

  private restore(snapshot: CursorSnapshot): void {
    this.ackedPrefix = snapshot.markDelete === null ? 0 : this.log.firstOrdinalAfter(snapshot.markDelete);
    for (const position of snapshot.acked) {
      const ordinal = this.log.ordinalOf(position);
      if (ordinal !== undefined && ordinal >= this.ackedPrefix) this.acked.add(ordinal);
    }
    this.advancePrefix();
    this.readPosition = this.ackedPrefix;
  }

  private snapshot(): CursorSnapshot {
    return {
      markDelete: this.ackedPrefix > 0 ? this.log.positionOf(this.ackedPrefix - 1) : null,
      acked: [...this.acked].sort((a, b) => a - b).map((ordinal) => this.log.positionOf(ordinal)),
    };
  }

  private advancePrefix(): void {
    while (this.acked.delete(this.ackedPrefix)) this.ackedPrefix++;
  }

  /**
   * Attaches a consumer.
   * @throws ConsumerBusyError when the Exclusive subscription already has one (HTTP 409).
   */
  attach(consumer: SubscriptionConsumer): void {
    if (this.deleted) throw new ConsumerBusyError(`Subscription ${this.name} was deleted`);
    if (this.consumer !== undefined) {
      throw new ConsumerBusyError(`Exclusive consumer is already connected`);
    }
    this.consumer = consumer;
  }

  /** Replaces the consumer that reserved the subscription during a handshake by the live one. */
  handOver(from: SubscriptionConsumer, to: SubscriptionConsumer): void {
    if (this.consumer !== from)
      throw new ConsumerBusyError(`Subscription ${this.name} is not held by the handshake`);
    this.consumer = to;
  }

  /** Detaches a consumer; what it was sent but did not acknowledge is delivered again to the next one. */
  detach(consumer: SubscriptionConsumer): void {
    if (this.consumer !== consumer) return;
    this.consumer = undefined;
    this.rewind();
    this.changed.notify();
  }

  /** Moves dispatch back to the first unacknowledged entry (Pulsar's cursor rewind). */
  private rewind(): void {
    this.readPosition = this.ackedPrefix;
    this.changed.notify();
  }

  /** The next entry for `consumer`, waiting for one if needed; null once it is detached. */
  async next(consumer: SubscriptionConsumer): Promise<Delivery | null> {
    for (;;) {
      if (this.consumer !== consumer) return null;
      while (this.readPosition < this.log.length && this.isAcked(this.readPosition)) this.readPosition++;
      if (this.readPosition < this.log.length) {
        const entry = await this.log.read(this.readPosition++);
        // Exclusive dispatch does not track redeliveries; Pulsar reports 0 there too.
        return { entry, redeliveryCount: 0 };
      }
      await this.changed.wait();
    }
  }

  private isAcked(ordinal: number): boolean {
    return ordinal < this.ackedPrefix || this.acked.has(ordinal);
  }

  /** Individual ack. Unknown ids are ignored, as Pulsar's fire-and-forget acks are. */
  acknowledge(position: Position): void {
    const ordinal = this.log.ordinalOf(position);
    if (ordinal === undefined || this.isAcked(ordinal) || this.deleted) return;
    this.acked.add(ordinal);
    this.advancePrefix();
    this.store.recordAck(position);
    if (this.store.wantsCompaction && !this.compacting) this.compact();
  }

  private compact(): void {
    this.compacting = true;
    this.store
      .saveSnapshot(() => this.snapshot())
      .catch((error: unknown) => {
        // The journal still holds every ack, so a failed compaction loses nothing; it is retried later.
        this.logger.error({ err: error, subscription: this.name }, 'cursor compaction failed');
      })
      .finally(() => (this.compacting = false));
  }

  /**
   * Negative ack. For Exclusive (and Failover) subscriptions Pulsar's client cannot redeliver single
   * messages, so after the delay it rewinds: every unacknowledged message is delivered again.
   */
  negativeAcknowledge(consumer: SubscriptionConsumer, delayMillis: number): void {
    const timer = setTimeout(() => {
      this.redeliveryTimers.delete(timer);
      if (this.consumer === consumer) this.rewind();
    }, delayMillis);
    this.redeliveryTimers.add(timer);
  }

  /** Resolves once every ack received so far is on disk. */
  flushed(): Promise<void> {
    return this.store.flushed();
  }

  /** True when everything written so far has been dispatched. */
  get dispatchedAll(): boolean {
    return this.readPosition >= this.log.length;
  }

  /** Deletes the subscription and its files; the attached consumer gets nothing more. */
  async unsubscribe(): Promise<void> {
    this.deleted = true;
    this.consumer = undefined;
    this.close();
    await this.store.delete();
  }

  get isDeleted(): boolean {
    return this.deleted;
  }

  /** Stops timers and listeners; acks already received are flushed by `store.close()`. */
  close(): void {
    for (const timer of this.redeliveryTimers) clearTimeout(timer);
    this.redeliveryTimers.clear();
    this.log.off('appended', this.onAppended);
    this.changed.notify();
  }

  async closeStore(): Promise<void> {
    this.close();
    if (!this.deleted) await this.store.close();
  }
}

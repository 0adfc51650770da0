/**
 * What consumer and reader sessions read from: one topic, or every partition of a partitioned
 * topic merged (docs/protocol.md §1.2: clients use the base name of a partitioned topic). Ids carry the
 * partition, and acks are routed back by it.
 */
import { messageIdOf, type MessageIdData } from '../../protocol/index.js';
import type { LogEntry } from '../storage/message-log.js';
import type { ReaderCursor } from '../topics/reader-cursor.js';
import type { Subscription, SubscriptionConsumer } from '../topics/subscription.js';
import type { Topic } from '../topics/topic.js';
import type { BoundedQueue } from '../topics/bounded-queue.js';
import type { NonPersistentSubscription, NonPersistentTopic } from '../topics/non-persistent-topic.js';
import { MergedSources } from './merge.js';

/** A delivery with the partition it came from (-1 for a non-partitioned topic). */
export interface SourcedDelivery {
  readonly entry: LogEntry;
  readonly redeliveryCount: number;
  readonly partition: number;
}

/** What a consumer session reads from and acknowledges to. */
export interface ConsumerSource {
  next(): Promise<SourcedDelivery | null>;
  idOf(delivery: SourcedDelivery): MessageIdData;
  acknowledge(id: MessageIdData): void;
  redeliverLater(consumer: SubscriptionConsumer, ids: readonly MessageIdData[], delayMillis: number): void;
  flushed(): Promise<void>;
  readonly atEndOfTopic: boolean;
  detach(consumer: SubscriptionConsumer): void;
  unsubscribe(): Promise<void>;
}

/** What a reader session reads from. */
export interface ReaderSource {
  next(): Promise<{ entry: LogEntry; partition: number } | null>;
  readonly atEndOfTopic: boolean;
  close(): void;
}

/** One durable subscription per partition (or a single one), as one consumer sees it. */
/** One topic (or partition) a consumer reads. */
export interface ConsumerPart {
  readonly topic: Topic;
  readonly subscription: Subscription;
  readonly partition: number;
}

export class TopicConsumerSource implements ConsumerSource {
  private readonly merged: MergedSources<SourcedDelivery>;
  private readonly parts: ConsumerPart[];
  /** Called once the consumer detaches (a pattern consumer stops watching for new topics). */
  onDetach: () => void = () => undefined;

  /**
   * One part per topic read: the topic itself (partition -1), every partition of a partitioned topic,
   * or the topics of a multi-topic consumer; a pattern consumer's (`growable`) gains parts later.
   */
  constructor(
    parts: readonly ConsumerPart[],
    private readonly consumer: SubscriptionConsumer,
    growable = false,
  ) {
    this.parts = [...parts];
    this.merged = new MergedSources(
      parts.map((part) => this.reader(part)),
      growable,
    );
  }

  private reader({ subscription, partition }: ConsumerPart): () => Promise<SourcedDelivery | null> {
    return async () => {
      const delivery = await subscription.next(this.consumer);
      return delivery === null ? null : { ...delivery, partition };
    };
  }

  /** Adds a topic the consumer is already attached to. */
  addPart(part: ConsumerPart): void {
    this.parts.push(part);
    this.merged.add(this.reader(part));
  }

  /** Whether the consumer already reads this topic. */
  reads(topicName: string): boolean {
    return this.parts.some(({ topic }) => topic.name.fullName === topicName);
  }

  next(): Promise<SourcedDelivery | null> {
    return this.merged.next();
  }

  idOf(delivery: SourcedDelivery): MessageIdData {
    return messageIdOf(delivery.entry.ledgerId, delivery.entry.entryId, delivery.partition);
  }

  /**
   * Ledger ids are unique across the whole broker, so an id names one part's entry at most: handing it
   * to every part acts on the right one, and the others ignore it (as unknown ids are ignored).
   */
  acknowledge(id: MessageIdData): void {
    for (const { subscription } of this.parts) subscription.acknowledge(id);
  }

  redeliverLater(consumer: SubscriptionConsumer, ids: readonly MessageIdData[], delayMillis: number): void {
    for (const { subscription } of this.parts) subscription.redeliverLater(consumer, ids, delayMillis);
  }

  async flushed(): Promise<void> {
    await Promise.all(this.parts.map(({ subscription }) => subscription.flushed()));
  }

  /** Every part terminated and fully dispatched. */
  get atEndOfTopic(): boolean {
    return this.parts.every(({ topic, subscription }) => topic.terminated && subscription.dispatchedAll);
  }

  detach(consumer: SubscriptionConsumer): void {
    this.onDetach();
    this.merged.end();
    for (const { subscription } of this.parts) subscription.detach(consumer);
  }

  async unsubscribe(): Promise<void> {
    await Promise.all(this.parts.map(({ topic, subscription }) => topic.unsubscribe(subscription)));
  }
}

/** One reader cursor per partition (or a single one). */
export class TopicReaderSource implements ReaderSource {
  private readonly merged: MergedSources<{ entry: LogEntry; partition: number }>;

  /**
   * `partition`: 'by-index' for a partitioned topic's partitions (in order), or the one partition
   * every id names (a partition read by its own name; -1 for a non-partitioned topic).
   */
  constructor(
    private readonly parts: readonly { topic: Topic; cursor: ReaderCursor }[],
    partition: 'by-index' | number,
  ) {
    this.merged = new MergedSources(
      parts.map(({ cursor }, index) => async () => {
        const entry = await cursor.next();
        return entry === null ? null : { entry, partition: partition === 'by-index' ? index : partition };
      }),
    );
  }

  next(): Promise<{ entry: LogEntry; partition: number } | null> {
    return this.merged.next();
  }

  get atEndOfTopic(): boolean {
    return this.parts.every(({ topic, cursor }) => topic.terminated && cursor.atEnd);
  }

  close(): void {
    for (const { topic, cursor } of this.parts) topic.releaseReader(cursor);
  }
}

/** A consumer of a non-persistent subscription: acks and negative acks have nothing to act on. */
export class NonPersistentConsumerSource implements ConsumerSource {
  constructor(
    private readonly topic: NonPersistentTopic,
    private readonly subscription: NonPersistentSubscription,
    private readonly consumer: SubscriptionConsumer,
  ) {}

  async next(): Promise<SourcedDelivery | null> {
    const entry = await this.subscription.next(this.consumer);
    return entry === null ? null : { entry, redeliveryCount: 0, partition: -1 };
  }

  idOf(): MessageIdData {
    return messageIdOf(0, 0);
  }

  acknowledge(): void {
    // Nothing is stored, so there is nothing to acknowledge.
  }

  redeliverLater(): void {
    // Pulsar cannot redeliver non-persistent messages either.
  }

  flushed(): Promise<void> {
    return Promise.resolve();
  }

  readonly atEndOfTopic = false;

  detach(consumer: SubscriptionConsumer): void {
    this.subscription.detach(consumer);
  }

  unsubscribe(): Promise<void> {
    this.topic.unsubscribe(this.subscription.name);
    return Promise.resolve();
  }
}

/** A reader of a non-persistent topic: only what is published while it is connected. */
export class NonPersistentReaderSource implements ReaderSource {
  private readonly queue: BoundedQueue<LogEntry>;

  constructor(
    private readonly topic: NonPersistentTopic,
    capacity: number,
  ) {
    this.queue = topic.reader(capacity);
  }

  async next(): Promise<{ entry: LogEntry; partition: number } | null> {
    const entry = await this.queue.next();
    return entry === null ? null : { entry, partition: -1 };
  }

  readonly atEndOfTopic = false;

  close(): void {
    this.topic.releaseReader(this.queue);
  }
}

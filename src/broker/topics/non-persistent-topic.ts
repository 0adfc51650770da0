/**
 * A non-persistent topic, as Pulsar 4.0.7 behaves (observed): nothing is stored; a message goes to
 * the consumers and readers connected when it is published, or nowhere; every ack and every delivery
 * carries the id 0:0 (`CAAQADAA`); there is no redelivery. Each consumer and reader has a queue as big
 * as its `receiverQueueSize`; a message that finds it full is dropped for it, as Pulsar drops
 * messages for consumers without permits.
 */
import type { SubscriptionType, TopicName } from '../../protocol/index.js';
import type { LogEntry } from '../storage/message-log.js';
import type { StoredMessage } from '../storage/record-codec.js';
import { BoundedQueue } from './bounded-queue.js';
import { keyOwner } from './key-hash.js';
import { ConsumerBusyError, type SubscriptionConsumer } from './subscription.js';
import { ProducerBusyError } from './topic.js';

/** Non-persistent messages have no position: Pulsar reports 0:0 for all of them. */
function entryOf(message: StoredMessage): LogEntry {
  return { ordinal: -1, ledgerId: 0, entryId: 0, message };
}

interface Member {
  consumer: SubscriptionConsumer;
  readonly queue: BoundedQueue<LogEntry>;
}

export class NonPersistentSubscription {
  private type: SubscriptionType | undefined;
  private members: Member[] = [];
  private roundRobin = 0;

  constructor(
    readonly name: string,
    private readonly onEmpty: () => void,
  ) {}

  /** @throws ConsumerBusyError (409) as for durable subscriptions. */
  attach(consumer: SubscriptionConsumer, type: SubscriptionType, capacity: number): void {
    if (this.members.length > 0 && this.type !== type) {
      throw new ConsumerBusyError(
        `Subscription is of different type. Active subscription type of '${this.type}' is different than the connecting consumer's type '${type}'.`,
      );
    }
    if (type === 'Exclusive' && this.members.length > 0) {
      throw new ConsumerBusyError('Exclusive consumer is already connected');
    }
    this.type = type;
    this.members.push({ consumer, queue: new BoundedQueue(Math.max(capacity, 1)) });
  }

  handOver(from: SubscriptionConsumer, to: SubscriptionConsumer): void {
    const member = this.members.find((candidate) => candidate.consumer === from);
    if (member === undefined)
      throw new ConsumerBusyError(`Subscription ${this.name} is not held by the handshake`);
    member.consumer = to;
  }

  detach(consumer: SubscriptionConsumer): void {
    const member = this.members.find((candidate) => candidate.consumer === consumer);
    if (member === undefined) return;
    member.queue.close();
    this.members = this.members.filter((candidate) => candidate !== member);
    // Like Pulsar, a non-persistent subscription goes away with its last consumer.
    if (this.members.length === 0) this.onEmpty();
  }

  next(consumer: SubscriptionConsumer): Promise<LogEntry | null> {
    const member = this.members.find((candidate) => candidate.consumer === consumer);
    return member === undefined ? Promise.resolve(null) : member.queue.next();
  }

  /** Hands the message to one consumer by subscription type; dropped when that one has no room. */
  offer(entry: LogEntry): void {
    const member = this.pick(entry);
    member?.queue.push(entry);
  }

  private pick(entry: LogEntry): Member | undefined {
    if (this.members.length === 0) return undefined;
    if (this.type === 'Exclusive' || this.type === 'Failover') {
      // Pulsar 4.0.7 (observed): no hash ring here, the first by priority then name is active.
      return [...this.members].sort(
        (a, b) =>
          a.consumer.priorityLevel - b.consumer.priorityLevel ||
          a.consumer.name.localeCompare(b.consumer.name),
      )[0];
    }
    if (this.type === 'Key_Shared') return keyOwner(entry.message.key, this.roundRobin++, this.members);
    // Shared: the next consumer in turn that has room.
    for (let tried = 0; tried < this.members.length; tried++) {
      const member = this.members[this.roundRobin++ % this.members.length];
      if (member?.queue.hasRoom === true) return member;
    }
    return undefined;
  }
}

export class NonPersistentTopic {
  private readonly producerNames = new Set<string>();
  private readonly subscriptions = new Map<string, NonPersistentSubscription>();
  private readonly readers = new Set<BoundedQueue<LogEntry>>();

  constructor(readonly name: TopicName) {}

  /** @throws ProducerBusyError (409) when the name is in use. */
  claimProducerName(name: string): () => void {
    if (this.producerNames.has(name)) {
      throw new ProducerBusyError(`Producer with name '${name}' is already connected to topic`);
    }
    this.producerNames.add(name);
    return () => this.producerNames.delete(name);
  }

  /** True when no producer, subscription or reader uses it: it holds nothing worth keeping. */
  get unused(): boolean {
    return this.producerNames.size === 0 && this.subscriptions.size === 0 && this.readers.size === 0;
  }

  /** Delivers to whoever is connected now; nothing is kept. */
  publish(message: StoredMessage): void {
    const entry = entryOf(message);
    for (const subscription of this.subscriptions.values()) subscription.offer(entry);
    for (const reader of this.readers) reader.push(entry);
  }

  subscription(name: string): NonPersistentSubscription {
    let subscription = this.subscriptions.get(name);
    if (subscription === undefined) {
      subscription = new NonPersistentSubscription(name, () => this.subscriptions.delete(name));
      this.subscriptions.set(name, subscription);
    }
    return subscription;
  }

  unsubscribe(name: string): void {
    this.subscriptions.delete(name);
  }

  reader(capacity: number): BoundedQueue<LogEntry> {
    const queue = new BoundedQueue<LogEntry>(Math.max(capacity, 1));
    this.readers.add(queue);
    return queue;
  }

  releaseReader(queue: BoundedQueue<LogEntry>): void {
    queue.close();
    this.readers.delete(queue);
  }
}

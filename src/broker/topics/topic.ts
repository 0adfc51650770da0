/**
 * A persistent topic: its message log, durable subscriptions and the producer names in use.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { InitialPosition, TopicName } from '../../protocol/index.js';
import { CursorStore } from '../storage/cursor-store.js';
import type { AppendResult, MessageLog } from '../storage/message-log.js';
import type { StoredMessage } from '../storage/record-codec.js';
import { ReaderCursor } from './reader-cursor.js';
import { Subscription } from './subscription.js';

export class ProducerBusyError extends Error {
  override readonly name = 'ProducerBusyError';
}

export class Topic {
  private readonly producerNames = new Set<string>();
  private readonly subscriptions = new Map<string, Promise<Subscription>>();
  private readonly readers = new Set<ReaderCursor>();
  /** Set when the topic is terminated (admin API, later issue); nothing can be published after it. */
  readonly terminated = false;

  constructor(
    readonly name: TopicName,
    private readonly dir: string,
    readonly log: MessageLog,
    private readonly fsync: boolean,
    private readonly logger: Logger,
  ) {}

  /**
   * Registers a producer name for the lifetime of a connection.
   * @throws ProducerBusyError when another producer uses it (HTTP 409).
   */
  claimProducerName(name: string): () => void {
    if (this.producerNames.has(name)) {
      throw new ProducerBusyError(`Producer with name '${name}' is already connected to topic`);
    }
    this.producerNames.add(name);
    return () => this.producerNames.delete(name);
  }

  publish(message: StoredMessage): Promise<AppendResult> {
    return this.log.append(message);
  }

  /** Opens a durable subscription, creating it at `initialPosition` the first time. */
  subscription(name: string, initialPosition: InitialPosition): Promise<Subscription> {
    let opening = this.subscriptions.get(name);
    if (opening === undefined) {
      opening = this.openSubscription(name, initialPosition);
      this.subscriptions.set(name, opening);
      // A failed open is not cached: the next consumer tries again.
      opening.catch(() => this.subscriptions.delete(name));
    }
    return opening;
  }

  private async openSubscription(name: string, initialPosition: InitialPosition): Promise<Subscription> {
    const dir = join(this.dir, 'subscriptions');
    await mkdir(dir, { recursive: true });
    const store = new CursorStore(join(dir, encodeURIComponent(name)), name, this.fsync, this.logger);
    return Subscription.open(
      name,
      this.log,
      store,
      this.logger.child({ subscription: name }),
      initialPosition,
    );
  }

  /** Forgets a deleted subscription so the next consumer creates it anew. */
  async unsubscribe(subscription: Subscription): Promise<void> {
    this.subscriptions.delete(subscription.name);
    await subscription.unsubscribe();
  }

  /** A reader positioned at `startOrdinal` (the first entry it will read). */
  reader(startOrdinal: number): ReaderCursor {
    const cursor = new ReaderCursor(this.log, startOrdinal);
    this.readers.add(cursor);
    return cursor;
  }

  releaseReader(cursor: ReaderCursor): void {
    cursor.close();
    this.readers.delete(cursor);
  }

  /** Flushes acks and appends, then closes files. */
  async close(): Promise<void> {
    for (const reader of this.readers) reader.close();
    const subscriptions = await Promise.allSettled(this.subscriptions.values());
    for (const result of subscriptions) {
      if (result.status === 'fulfilled') await result.value.close();
    }
    await this.log.close();
  }
}

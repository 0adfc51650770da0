/**
 * A persistent topic: its message log, durable subscriptions, the producer names in use and whether
 * it was terminated. Its metadata (`topic.json`) holds the full name and the termination.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { InitialPosition, TopicName } from '../../protocol/index.js';
import { writeFileAtomic } from '../storage/atomic-file.js';
import { CursorStore, type Position } from '../storage/cursor-store.js';
import type { AppendResult, MessageLog } from '../storage/message-log.js';
import type { StoredMessage } from '../storage/record-codec.js';
import { ReaderCursor } from './reader-cursor.js';
import { Subscription } from './subscription.js';

export class ProducerBusyError extends Error {
  override readonly name = 'ProducerBusyError';
}

export class TopicTerminatedError extends Error {
  override readonly name = 'TopicTerminatedError';
}

/** What `topic.json` holds. */
interface TopicMetadata {
  readonly topic: string;
  /** The last message when the topic was terminated; absent while it is open. */
  readonly terminatedAt?: Position;
}

const METADATA_FILE = 'topic.json';

export class Topic {
  private readonly producerNames = new Set<string>();
  private readonly subscriptions = new Map<string, Promise<Subscription>>();
  private readonly openSubscriptions = new Map<string, Subscription>();
  private readonly readers = new Set<ReaderCursor>();
  private terminatedAt: Position | undefined;

  private constructor(
    readonly name: TopicName,
    private readonly dir: string,
    readonly log: MessageLog,
    private readonly fsync: boolean,
    private readonly logger: Logger,
  ) {}

  static async open(
    name: TopicName,
    dir: string,
    log: MessageLog,
    fsync: boolean,
    logger: Logger,
  ): Promise<Topic> {
    const topic = new Topic(name, dir, log, fsync, logger);
    const metadataPath = join(dir, METADATA_FILE);
    try {
      const metadata = JSON.parse(await readFile(metadataPath, 'utf8')) as TopicMetadata;
      topic.terminatedAt = metadata.terminatedAt;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await topic.saveMetadata();
    }
    return topic;
  }

  private saveMetadata(): Promise<void> {
    const metadata: TopicMetadata = {
      topic: this.name.fullName,
      ...(this.terminatedAt === undefined ? {} : { terminatedAt: this.terminatedAt }),
    };
    return writeFileAtomic(join(this.dir, METADATA_FILE), JSON.stringify(metadata));
  }

  /** True once terminated: no more publishes, and consumers that have everything reach its end. */
  get terminated(): boolean {
    return this.terminatedAt !== undefined;
  }

  /**
   * Terminates the topic (idempotent); returns the position of its last message ({-1, -1} when
   * empty). Publishes in flight finish first.
   */
  async terminate(): Promise<Position> {
    if (this.terminatedAt === undefined) {
      await this.log.drained();
      this.terminatedAt =
        this.log.length > 0 ? this.log.positionOf(this.log.length - 1) : { ledgerId: -1, entryId: -1 };
      await this.saveMetadata();
      this.logger.info({ lastMessage: this.terminatedAt }, 'topic terminated');
    }
    return this.terminatedAt;
  }

  /** Connected producers, subscriptions with consumers or readers (admin delete refuses then). */
  get inUse(): boolean {
    return (
      this.producerNames.size > 0 ||
      this.readers.size > 0 ||
      [...this.openSubscriptions.values()].some((subscription) => subscription.hasConsumers)
    );
  }

  /** What the admin API reports (a subset of Pulsar's topic stats). */
  async stats(): Promise<Record<string, unknown>> {
    const subscriptions: Record<string, unknown> = {};
    for (const name of await this.subscriptionNames()) {
      subscriptions[name] = (await this.subscription(name, 'Latest')).stats();
    }
    return {
      msgInCounter: this.log.length,
      publishers: [...this.producerNames].map((producerName) => ({ producerName })),
      subscriptions,
    };
  }

  /** Names of the durable subscriptions stored for this topic. */
  async subscriptionNames(): Promise<string[]> {
    try {
      return (await readdir(join(this.dir, 'subscriptions')))
        .filter((file) => file.endsWith('.json'))
        .map((file) => decodeURIComponent(file.slice(0, -'.json'.length)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

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

  /** @throws TopicTerminatedError once the topic is terminated. */
  publish(message: StoredMessage): Promise<AppendResult> {
    if (this.terminated) return Promise.reject(new TopicTerminatedError('Topic was already terminated'));
    return this.log.append(message);
  }

  /** Opens a durable subscription, creating it at `initialPosition` the first time. */
  subscription(name: string, initialPosition: InitialPosition): Promise<Subscription> {
    let opening = this.subscriptions.get(name);
    if (opening === undefined) {
      opening = this.openSubscription(name, initialPosition);
      this.subscriptions.set(name, opening);
      opening.then(
        (subscription) => this.openSubscriptions.set(name, subscription),
        () => undefined, // handled below and by the caller
      );
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
    this.openSubscriptions.delete(subscription.name);
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

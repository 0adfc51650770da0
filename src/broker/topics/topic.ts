/**
 * A persistent topic: its message log, durable subscriptions, the producer names in use and whether
 * it was terminated. Its metadata (`topic.json`) holds the full name and the termination.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { InitialPosition, TopicName } from '../../protocol/index.js';
import { writeFileAtomic } from '../../fs/atomic-file.js';
import { CursorFiles } from '../storage/cursor-files.js';
import { CursorStore, MemoryCursorStore, type Position } from '../storage/cursor-store.js';
import type { AppendResult, MessageLog } from '../storage/message-log.js';
import type { StoredMessage } from '../storage/record-codec.js';
import type { RetentionPolicy } from '../storage/retention.js';
import { DeduplicationState, DuplicateUnknownError } from './deduplication.js';
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
const SUBSCRIPTIONS_DIR = 'subscriptions';
/** Pulsar keeps deduplication state in a cursor named `pulsar.dedup`; this file is its counterpart. */
const DEDUPLICATION_SNAPSHOT = 'pulsar.dedup.snapshot';

export interface TopicOptions {
  readonly fsync: boolean;
  /** Asked at every publish: the namespace policy may change while the topic is open. */
  readonly deduplicationEnabled: () => boolean;
  /** Deduplication forgets a producer not connected for this long (see DeduplicationState). */
  readonly deduplicationProducerInactivityTimeoutMillis: number;
  /** Asked at every trim: the namespace policy may change while the topic is open. */
  readonly retention: () => RetentionPolicy;
  readonly logger: Logger;
}

/** Where a duplicate lands: Pulsar acks it with message id -1:-1. */
export const DUPLICATE_RESULT: AppendResult = { ordinal: -1, ledgerId: -1, entryId: -1 };

export class Topic {
  private readonly producerNames = new Set<string>();
  private readonly subscriptions = new Map<string, Promise<Subscription>>();
  private readonly openSubscriptions = new Map<string, Subscription>();
  /** NonDurable subscriptions: in memory, gone with their last consumer. */
  private readonly nonDurable = new Map<string, Subscription>();
  private readonly readers = new Set<ReaderCursor>();
  private terminatedAt: Position | undefined;
  /** Deduplication state, loaded on first use. */
  private deduplication: Promise<DeduplicationState> | undefined;
  private trimScheduled = false;
  private trimming: Promise<void> = Promise.resolve();
  private closed = false;
  /** Publishes accepted and not yet stored (a dead-letter publish holds no producer name). */
  private publishesInFlight = 0;
  /** The last append, so that a duplicate's ack does not overtake the acks of earlier messages. */
  private lastAppend: Promise<unknown> = Promise.resolve();

  private readonly cursorFiles: CursorFiles;

  private constructor(
    readonly name: TopicName,
    private readonly dir: string,
    readonly log: MessageLog,
    private readonly options: TopicOptions,
  ) {
    this.cursorFiles = new CursorFiles(join(dir, SUBSCRIPTIONS_DIR));
  }

  private get logger(): Logger {
    return this.options.logger;
  }

  static async open(name: TopicName, dir: string, log: MessageLog, options: TopicOptions): Promise<Topic> {
    const topic = new Topic(name, dir, log, options);
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

  /**
   * The last stored message (admin `lastMessageId`); an empty topic answers entry -1, as Pulsar's
   * does for a ledger with nothing in it.
   */
  async lastMessageId(): Promise<Position> {
    await this.log.drained();
    return this.log.length > 0 ? this.log.positionOf(this.log.length - 1) : { ledgerId: -1, entryId: -1 };
  }

  /** Connected producers, subscriptions with consumers or readers (admin delete refuses then). */
  get inUse(): boolean {
    return (
      this.producerNames.size > 0 ||
      this.publishesInFlight > 0 ||
      this.readers.size > 0 ||
      [...this.openSubscriptions.values(), ...this.nonDurable.values()].some(
        (subscription) => subscription.hasConsumers,
      )
    );
  }

  /** What the admin API reports (a subset of Pulsar's topic stats). */
  async stats(): Promise<Record<string, unknown>> {
    const subscriptions: Record<string, unknown> = {};
    for (const name of await this.subscriptionNames()) {
      const subscription = await this.subscription(name, 'Latest');
      if (!subscription.isDeleted) subscriptions[name] = subscription.stats();
    }
    for (const [name, subscription] of this.nonDurable) subscriptions[name] = subscription.stats();
    return {
      msgInCounter: this.log.length,
      publishers: [...this.producerNames].map((producerName) => ({ producerName })),
      subscriptions,
    };
  }

  /** Names of the durable subscriptions stored for this topic. */
  subscriptionNames(): Promise<string[]> {
    return this.cursorFiles.names();
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
    this.withDeduplication((state) => state.producerConnected(name));
    return () => {
      this.producerNames.delete(name);
      this.withDeduplication((state) => state.producerDisconnected(name));
    };
  }

  /** Runs `use` on the deduplication state if it is loaded or loading. */
  private withDeduplication(use: (state: DeduplicationState) => void): void {
    // A failed load is reported to the publish that started it; there is no state to update then.
    void this.deduplication?.then(use, () => undefined);
  }

  /**
   * Stores a message. With deduplication on, a message whose sequence id is not above the highest
   * stored for its producer name is dropped and answered with {@link DUPLICATE_RESULT}, as Pulsar does.
   * @throws TopicTerminatedError once the topic is terminated.
   */
  publish(message: StoredMessage): Promise<AppendResult> {
    if (this.terminated) return Promise.reject(new TopicTerminatedError('Topic was already terminated'));
    this.publishesInFlight++;
    const stored = this.store(message);
    void stored.then(
      () => this.publishesInFlight--,
      () => this.publishesInFlight--,
    );
    return stored;
  }

  /** The deduplication state, loaded on first use. */
  private deduplicationState(): Promise<DeduplicationState> {
    this.deduplication ??= DeduplicationState.load(
      join(this.dir, SUBSCRIPTIONS_DIR, DEDUPLICATION_SNAPSHOT),
      {
        log: this.log,
        logger: this.logger,
        producerInactivityTimeoutMillis: this.options.deduplicationProducerInactivityTimeoutMillis,
        isConnected: (producer) => this.producerNames.has(producer),
      },
    );
    return this.deduplication;
  }

  /**
   * With deduplication on, the highest sequence id stored for `producerName`, which Pulsar hands a
   * producer that connects without `initialSequenceId` so that it goes on from there (-1 otherwise):
   * a producer that comes back under the same name, generated names included (they start again at
   * `<cluster>-0-0` after a restart), is not taken for its own duplicates.
   */
  async lastSequenceIdOf(producerName: string): Promise<number> {
    if (!this.options.deduplicationEnabled()) return -1;
    return (await this.deduplicationState()).lastSequenceId(producerName);
  }

  private store(message: StoredMessage): Promise<AppendResult> {
    if (!this.options.deduplicationEnabled()) {
      // Stored ids are not tracked while off; the next enabled publish reloads them from the log.
      this.deduplication = undefined;
      return this.append(message);
    }
    const { producerName, sequenceId } = message;
    // Every deduplicated publish goes through the same promise, so they keep their order.
    return this.deduplicationState().then(async (state) => {
      if (!state.accept(producerName, sequenceId)) {
        // Answered after the appends before it, so its ack does not overtake theirs; by then a copy
        // that was still being stored has been stored, or has failed.
        await this.lastAppend;
        if (state.isStored(producerName, sequenceId)) return DUPLICATE_RESULT;
        throw new DuplicateUnknownError(
          `Cannot determine whether the message is a duplicate at this time: sequence id ${sequenceId} of producer ${producerName} failed to persist; send it again`,
        );
      }
      let result: AppendResult;
      try {
        result = await this.append(message);
      } catch (error) {
        state.failed(producerName);
        throw error;
      }
      state.persistedAt(result.ordinal, producerName, sequenceId);
      return result;
    });
  }

  private append(message: StoredMessage): Promise<AppendResult> {
    const appended = this.log.append(message);
    // Only an ordering point for duplicates; the caller handles the failure.
    this.lastAppend = appended.catch(() => undefined);
    return appended;
  }

  /**
   * A NonDurable subscription: created at `initialPosition` when it has no consumer, kept in memory
   * only, removed when its last consumer leaves (as Pulsar does).
   */
  async nonDurableSubscription(name: string, initialPosition: InitialPosition): Promise<Subscription> {
    const existing = this.nonDurable.get(name);
    if (existing !== undefined && !existing.isDeleted) return existing;
    const subscription = await Subscription.open(
      name,
      this.name,
      this.log,
      new MemoryCursorStore(),
      this.logger.child({ subscription: name }),
      initialPosition,
      () => this.nonDurable.delete(name),
    );
    // Another handshake may have created it meanwhile; use that one.
    const raced = this.nonDurable.get(name);
    if (raced !== undefined && !raced.isDeleted) return raced;
    this.nonDurable.set(name, subscription);
    return subscription;
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
    await mkdir(this.cursorFiles.dir, { recursive: true });
    const store = new CursorStore(
      await this.cursorFiles.basePath(name),
      name,
      this.options.fsync,
      this.logger,
    );
    const subscription = await Subscription.open(
      name,
      this.name,
      this.log,
      store,
      this.logger.child({ subscription: name }),
      initialPosition,
    );
    subscription.onConsumed = (firstUnacked) => {
      // Acks move cursors all the time, but a segment can go only once one is consumed to its end:
      // the trim (a directory listing, a deduplication snapshot) stays off the per-ack path.
      const deletableAt = this.log.oldestClosedSegmentEnd;
      if (deletableAt !== undefined && firstUnacked >= deletableAt) this.scheduleTrim();
    };
    return subscription;
  }

  /** Trims soon, once for all acks of this event-loop turn (Pulsar trims when a cursor moves on). */
  scheduleTrim(): void {
    if (this.trimScheduled || this.closed) return;
    this.trimScheduled = true;
    setImmediate(() => {
      this.trimScheduled = false;
      if (!this.closed) void this.trim();
    });
  }

  /**
   * Deletes consumed segments that retention does not keep (see MessageLog.trim). Everything before
   * the slowest durable subscription's first unacknowledged entry is consumed; with no durable
   * subscription, everything is (readers do not hold data back, as in Pulsar).
   */
  trim(includeWritable = false): Promise<void> {
    const run = this.trimming.then(async () => {
      const { consumedBefore, durableSubscriptions } = await this.consumption();
      if (consumedBefore <= this.log.firstOrdinal) return;
      // The deduplication snapshot must cover what is about to be deleted.
      if (this.deduplication !== undefined) await (await this.deduplication).snapshot();
      // The ledger being closed goes at once only when subscriptions consumed it; a topic nobody
      // subscribes to keeps it until a later retention check, so a restart never loses data at once.
      const deleted = await this.log.trim(
        consumedBefore,
        this.options.retention(),
        includeWritable && durableSubscriptions > 0,
      );
      if (deleted > 0) this.logger.debug({ deleted }, 'retention deleted consumed entries');
    });
    this.trimming = run.catch((error: unknown) => {
      // The data stays on disk; the next trim tries again.
      this.logger.warn({ err: error }, 'retention trim failed');
    });
    return this.trimming;
  }

  private async consumption(): Promise<{ consumedBefore: number; durableSubscriptions: number }> {
    let consumedBefore = this.log.length;
    let durableSubscriptions = 0;
    for (const name of await this.subscriptionNames()) {
      const subscription = await this.subscription(name, 'Latest');
      if (subscription.isDeleted) continue;
      durableSubscriptions++;
      consumedBefore = Math.min(consumedBefore, subscription.firstUnacked);
    }
    return { consumedBefore, durableSubscriptions };
  }

  /** Forgets a deleted subscription so the next consumer creates it anew. */
  async unsubscribe(subscription: Subscription): Promise<void> {
    if (!subscription.durable) {
      this.nonDurable.delete(subscription.name);
      await subscription.unsubscribe();
      return;
    }
    // Forget it only once its files are gone: until then a lookup finds the deleted object (which
    // refuses consumers) instead of loading the files again and bringing it back.
    try {
      await subscription.unsubscribe();
    } finally {
      this.subscriptions.delete(subscription.name);
      this.openSubscriptions.delete(subscription.name);
    }
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

  /**
   * Flushes acks and appends, snapshots the deduplication state, then closes files. Closing ends the
   * current ledger, as a Pulsar topic unload does, so a consumed one is trimmed now too.
   */
  async close(): Promise<void> {
    for (const reader of this.readers) reader.close();
    await this.log.drained();
    await this.trim(true);
    this.closed = true;
    await this.trimming;
    if (this.deduplication !== undefined) {
      await this.deduplication.then(
        (state) => state.snapshot(),
        () => undefined, // a failed load left nothing to snapshot
      );
    }
    const subscriptions = await Promise.allSettled(this.subscriptions.values());
    for (const result of subscriptions) {
      if (result.status === 'fulfilled') await result.value.close();
    }
    await this.log.close();
  }
}

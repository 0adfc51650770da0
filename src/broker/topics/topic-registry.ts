/**
 * Opens topics lazily, once each, under `<dataDir>/topics/<storage name>/`: the URL-encoded full
 * name, or for a name too long for a directory name a prefix of it and its hash (see storage-names.ts).
 * The full name is in the topic's `topic.json`, which is where listings read it from.
 */
import { EventEmitter } from 'node:events';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathExists } from '../../fs/missing-ok.js';
import type { Logger } from 'pino';
import type { TopicName } from '../../protocol/index.js';
import type { LedgerIdAllocator } from '../storage/ledger-ids.js';
import { writeFileAtomic } from '../../fs/atomic-file.js';
import { MessageLog } from '../storage/message-log.js';
import { storageName } from '../storage/storage-names.js';
import type { RetentionPolicy } from '../storage/retention.js';
import { LoadedTopics } from './loaded-topics.js';
import { NonPersistentTopic } from './non-persistent-topic.js';
import { Topic } from './topic.js';

export interface TopicRegistryOptions {
  readonly dataDir: string;
  readonly fsync: boolean;
  readonly maxSegmentBytes: number;
  readonly maxEntriesPerSegment: number;
  readonly cacheBytesPerTopic: number;
  /** Whether message deduplication is on for a topic (namespace policy, else the broker default). */
  readonly deduplicationEnabled: (topic: TopicName) => boolean;
  /** Deduplication forgets a producer not connected for this long. */
  readonly deduplicationProducerInactivityTimeoutMillis: number;
  /** The retention of a topic (namespace policy, else the broker defaults). */
  readonly retention: (topic: TopicName) => RetentionPolicy;
  /** An unused topic is closed after this long (0 = never). */
  readonly topicIdleTimeoutMillis: number;
  /** At most this many unused topics stay open (least recently used ones close first). */
  readonly maxOpenTopics: number;
  readonly retentionCheckIntervalMillis: number;
  readonly logger: Logger;
}

export class TopicNotFoundError extends Error {
  override readonly name = 'TopicNotFoundError';
}

export class TopicInUseError extends Error {
  override readonly name = 'TopicInUseError';
}

export class PartitionedTopicExistsError extends Error {
  override readonly name = 'PartitionedTopicExistsError';
}

/** `created`: a persistent topic came into existence (pattern consumers subscribe to it). */
export class TopicRegistry extends EventEmitter<{ created: [topic: Topic] }> {
  private readonly topics: LoadedTopics;
  /** Non-persistent topics live in memory only, while they are used. */
  private readonly nonPersistentTopics = new Map<string, NonPersistentTopic>();
  private readonly nonPersistentSweep: NodeJS.Timeout | undefined;
  /** Partitioned topics: full name → number of partitions (`<data-dir>/partitioned-topics.json`). */
  private partitioned = new Map<string, number>();

  constructor(
    private readonly ledgerIds: LedgerIdAllocator,
    private readonly options: TopicRegistryOptions,
  ) {
    super();
    // Non-persistent topics hold no data: an unused one is dropped at the next idle sweep. Handshakes
    // take and use them without awaiting anything in between, so a sweep never drops one in use.
    if (options.topicIdleTimeoutMillis > 0) {
      const period = Math.min(options.topicIdleTimeoutMillis, 10_000);
      this.nonPersistentSweep = setInterval(() => {
        for (const [name, topic] of this.nonPersistentTopics) {
          if (topic.unused) this.nonPersistentTopics.delete(name);
        }
      }, period).unref();
    }
    this.topics = new LoadedTopics({
      idleTimeoutMillis: options.topicIdleTimeoutMillis,
      maxOpenTopics: options.maxOpenTopics,
      retentionCheckIntervalMillis: options.retentionCheckIntervalMillis,
      logger: options.logger,
    });
  }

  /** Runs a handshake or admin call; the topics it opens stay open until `release` (see LoadedTopics). */
  withLease<T>(work: () => Promise<T>): Promise<{ result: T; release: () => void }> {
    return this.topics.withLease(work);
  }

  /** Number of persistent topics open now (their files and caches held). */
  get openTopicCount(): number {
    return this.topics.size;
  }

  /** The in-memory topic of a `non-persistent://` name, created on first use. */
  nonPersistent(name: TopicName): NonPersistentTopic {
    let topic = this.nonPersistentTopics.get(name.fullName);
    if (topic === undefined) {
      topic = new NonPersistentTopic(name);
      this.nonPersistentTopics.set(name.fullName, topic);
    }
    return topic;
  }

  /** Loads the partitioned-topic metadata; call once before use. */
  async loadPartitionMetadata(): Promise<void> {
    try {
      const file = await readFile(this.partitionMetadataPath, 'utf8');
      this.partitioned = new Map(Object.entries(JSON.parse(file) as Record<string, number>));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  private get partitionMetadataPath(): string {
    return join(this.options.dataDir, 'partitioned-topics.json');
  }

  /** Partitions of a partitioned topic; 0 for any other name. */
  partitionsOf(name: TopicName): number {
    return this.partitioned.get(name.fullName) ?? 0;
  }

  /** The partitioned topics of `domain://namespace/`, by base name, sorted (Pulsar's `/partitioned` listing). */
  listPartitioned(domain: string, namespace: string): string[] {
    const prefix = `${domain}://${namespace}/`;
    return [...this.partitioned.keys()].filter((name) => name.startsWith(prefix)).sort();
  }

  /** @throws PartitionedTopicExistsError when the name is taken (partitioned or not). */
  async createPartitioned(name: TopicName, partitions: number): Promise<void> {
    if (this.partitioned.has(name.fullName) || (await this.exists(name))) {
      throw new PartitionedTopicExistsError('This topic already exists');
    }
    this.partitioned.set(name.fullName, partitions);
    await writeFileAtomic(this.partitionMetadataPath, JSON.stringify(Object.fromEntries(this.partitioned)));
  }

  private dirOf(name: TopicName): string {
    return join(this.options.dataDir, 'topics', storageName(name.fullName));
  }

  /**
   * The topic, loading it from disk on first use.
   * @throws TopicNotFoundError when it does not exist and `create` is false (HTTP 404).
   */
  async get(name: TopicName, create: boolean): Promise<Topic> {
    const dir = this.dirOf(name);
    if (!create && !this.topics.has(name.fullName) && !(await pathExists(dir))) {
      throw new TopicNotFoundError(`Topic ${name.fullName} does not exist`);
    }
    // Another connection may have opened it while we looked at the disk: `get` shares that one.
    return this.topics.get(name.fullName, () => this.open(name, dir));
  }

  private async open(name: TopicName, dir: string): Promise<Topic> {
    const created = !(await pathExists(join(dir, 'topic.json')));
    await mkdir(dir, { recursive: true });
    const logger = this.options.logger.child({ topic: name.fullName });
    const log = await MessageLog.open(dir, this.ledgerIds, {
      fsync: this.options.fsync,
      maxSegmentBytes: this.options.maxSegmentBytes,
      maxEntriesPerSegment: this.options.maxEntriesPerSegment,
      cacheBytes: this.options.cacheBytesPerTopic,
      logger,
    });
    let topic: Topic;
    try {
      topic = await Topic.open(name, dir, log, {
        fsync: this.options.fsync,
        deduplicationEnabled: () => this.options.deduplicationEnabled(name),
        deduplicationProducerInactivityTimeoutMillis:
          this.options.deduplicationProducerInactivityTimeoutMillis,
        retention: () => this.options.retention(name),
        logger,
      });
    } catch (error) {
      await log.close();
      throw error;
    }
    // Listeners act once the opening caller has the topic.
    if (created) setImmediate(() => this.emit('created', topic));
    return topic;
  }

  /** Whether the topic exists (loaded or on disk). */
  async exists(name: TopicName): Promise<boolean> {
    return this.topics.has(name.fullName) || pathExists(this.dirOf(name));
  }

  /** Full names of the stored topics of a namespace (`tenant/namespace`). */
  async list(domain: string, namespace: string): Promise<string[]> {
    const prefix = `${domain}://${namespace}/`;
    let dirs: string[];
    try {
      dirs = await readdir(join(this.options.dataDir, 'topics'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const names = await Promise.all(
      dirs.map(async (dir) => {
        const metadata = await readFile(
          join(this.options.dataDir, 'topics', dir, 'topic.json'),
          'utf8',
        ).catch((error: unknown) => {
          // A folder without metadata is a topic whose creation crashed half-way: not a topic.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw error;
        });
        return metadata === undefined ? undefined : (JSON.parse(metadata) as { topic: string }).topic;
      }),
    );
    return names.filter((name): name is string => name?.startsWith(prefix) === true).sort();
  }

  /**
   * Deletes a topic with its data.
   * @throws TopicNotFoundError, TopicInUseError
   */
  async delete(name: TopicName): Promise<void> {
    if (!(await this.exists(name))) throw new TopicNotFoundError(`Topic ${name.fullName} not found`);
    const topic = await this.get(name, false);
    if (topic.inUse) throw new TopicInUseError('Topic has active producers/subscriptions');
    this.topics.forget(name.fullName);
    await topic.close();
    await rm(this.dirOf(name), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    clearInterval(this.nonPersistentSweep);
    await this.topics.close();
  }
}

/**
 * Opens topics lazily, once each, under `<dataDir>/topics/<url-encoded full name>/`.
 */
import { access, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TopicName } from '../../protocol/index.js';
import type { LedgerIdAllocator } from '../storage/ledger-ids.js';
import { writeFileAtomic } from '../../fs/atomic-file.js';
import { MessageLog } from '../storage/message-log.js';
import { NonPersistentTopic } from './non-persistent-topic.js';
import { Topic } from './topic.js';

export interface TopicRegistryOptions {
  readonly dataDir: string;
  readonly fsync: boolean;
  readonly maxSegmentBytes: number;
  readonly cacheBytesPerTopic: number;
  /** Whether message deduplication is on for a topic (namespace policy, else the broker default). */
  readonly deduplicationEnabled: (topic: TopicName) => boolean;
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

export class TopicRegistry {
  private readonly topics = new Map<string, Promise<Topic>>();
  /** Non-persistent topics live in memory only, for the broker's lifetime. */
  private readonly nonPersistentTopics = new Map<string, NonPersistentTopic>();
  /** Partitioned topics: full name → number of partitions (`<data-dir>/partitioned-topics.json`). */
  private partitioned = new Map<string, number>();

  constructor(
    private readonly ledgerIds: LedgerIdAllocator,
    private readonly options: TopicRegistryOptions,
  ) {}

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

  /** @throws PartitionedTopicExistsError when the name is taken (partitioned or not). */
  async createPartitioned(name: TopicName, partitions: number): Promise<void> {
    if (this.partitioned.has(name.fullName) || (await this.exists(name))) {
      throw new PartitionedTopicExistsError('This topic already exists');
    }
    this.partitioned.set(name.fullName, partitions);
    await writeFileAtomic(this.partitionMetadataPath, JSON.stringify(Object.fromEntries(this.partitioned)));
  }

  private dirOf(name: TopicName): string {
    return join(this.options.dataDir, 'topics', encodeURIComponent(name.fullName));
  }

  /**
   * The topic, loading it from disk on first use.
   * @throws TopicNotFoundError when it does not exist and `create` is false (HTTP 404).
   */
  async get(name: TopicName, create: boolean): Promise<Topic> {
    const known = this.topics.get(name.fullName);
    if (known !== undefined) return known;
    const dir = this.dirOf(name);
    if (!create && !(await exists(dir))) {
      throw new TopicNotFoundError(`Topic ${name.fullName} does not exist`);
    }
    // Re-check: another connection may have started opening it while we looked at the disk.
    const raced = this.topics.get(name.fullName);
    if (raced !== undefined) return raced;
    const opening = this.open(name, dir);
    this.topics.set(name.fullName, opening);
    opening.catch(() => this.topics.delete(name.fullName));
    return opening;
  }

  private async open(name: TopicName, dir: string): Promise<Topic> {
    await mkdir(dir, { recursive: true });
    const logger = this.options.logger.child({ topic: name.fullName });
    const log = await MessageLog.open(dir, this.ledgerIds, {
      fsync: this.options.fsync,
      maxSegmentBytes: this.options.maxSegmentBytes,
      cacheBytes: this.options.cacheBytesPerTopic,
      logger,
    });
    return Topic.open(name, dir, log, {
      fsync: this.options.fsync,
      deduplicationEnabled: () => this.options.deduplicationEnabled(name),
      logger,
    });
  }

  /** Whether the topic exists (loaded or on disk). */
  async exists(name: TopicName): Promise<boolean> {
    return this.topics.has(name.fullName) || exists(this.dirOf(name));
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
    this.topics.delete(name.fullName);
    await topic.close();
    await rm(this.dirOf(name), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    const topics = await Promise.allSettled(this.topics.values());
    this.topics.clear();
    for (const result of topics) {
      if (result.status === 'fulfilled') await result.value.close();
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Checkpoints for file sources: per input path, the file's identity (device + inode) and how far the
 * broker has acknowledged it (byte offset, and the count of messages made from it, which dedup uses
 * as sequence ids; into a partitioned topic, dedup also keeps each partition's last sequence id,
 * since each partition numbers its own messages, and the partition count). Saved atomically and durably (src/fs/atomic-file.ts), at most every `intervalMs`
 * and on `flush()`, so a crash leaves either the old or the new checkpoint, never a torn one.
 *
 * A save that fails (read-only or full disk) is logged and retried with backoff; progress keeps being
 * recorded in memory meanwhile. After `maxFailures` failures in a row the store gives up: the error
 * goes to every `onFailure` listener (file sources destroy themselves with it) and `flush()` throws
 * it. No save ever rejects unhandled.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { ConnectorError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-file.js';

export interface FilePosition {
  readonly dev: number;
  readonly ino: number;
  /** Bytes of the file whose messages were all acknowledged. */
  readonly offset: number;
  /** Messages made from this path before `offset` (across rotations): the next message's ordinal. */
  readonly messages: number;
  /**
   * Effectively-once into a partitioned topic: per partition, the sequence id of the last message
   * before `offset` that went to it (-1: none), one entry per partition of `partitions`. Absent
   * otherwise (and in checkpoints written before it existed).
   */
  readonly sequenceIds?: readonly number[];
  /**
   * With `sequenceIds`: the partition count the producer routed over, so a restart tells a topic
   * that gained partitions from partitions no message went to. Absent in checkpoints written
   * before it existed, whose `sequenceIds` may be shorter than the count (see dedup-resume.ts).
   */
  readonly partitions?: number;
}

/**
 * A checkpoint entry's `sequenceIds`, if present, is an array of integers from -1; its
 * `partitions`, if present, a positive integer, with `sequenceIds` of at most that many entries.
 */
function validPartitionState(position: unknown): boolean {
  if (typeof position !== 'object' || position === null) return false;
  const { sequenceIds: ids, partitions } = position as { sequenceIds?: unknown; partitions?: unknown };
  const idsValid =
    ids === undefined ||
    (Array.isArray(ids) && ids.every((id) => Number.isSafeInteger(id) && (id as number) >= -1));
  const partitionsValid =
    partitions === undefined ||
    (Number.isSafeInteger(partitions) &&
      (partitions as number) >= 1 &&
      Array.isArray(ids) &&
      ids.length <= (partitions as number));
  return idsValid && partitionsValid;
}

interface CheckpointFile {
  readonly version: 1;
  readonly files: Record<string, FilePosition>;
}

export interface CheckpointOptions {
  /** Save at most this often, in ms. @default 200 */
  readonly intervalMs?: number;
  /** Give up (report the error) after this many failed saves in a row. @default 8 */
  readonly maxFailures?: number;
  /** The first retry's delay, in ms; doubled each time up to `maxRetryDelayMs`. @default 100 */
  readonly retryDelayMs?: number;
  /** @default 2000 */
  readonly maxRetryDelayMs?: number;
  readonly logger?: Logger;
}

export class CheckpointStore {
  private readonly files: Map<string, FilePosition>;
  private timer: NodeJS.Timeout | undefined;
  /** Saves run one after another on this chain; it never rejects. */
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;
  /** Failed saves in a row. */
  private failures = 0;
  /** Set once `maxFailures` saves failed in a row: the store gave up. */
  private failure: ConnectorError | undefined;
  private readonly listeners = new Set<(error: ConnectorError) => void>();
  private readonly logger: Logger;

  private constructor(
    readonly path: string,
    files: Record<string, FilePosition>,
    private readonly options: CheckpointOptions,
  ) {
    this.files = new Map(Object.entries(files));
    this.logger = options.logger ?? pino({ enabled: false });
  }

  /**
   * Loads `path` (absent: an empty checkpoint). `options` may be a number: the save interval in ms.
   * @throws ConnectorError when it is unreadable or malformed.
   */
  static async open(path: string, options: CheckpointOptions | number = {}): Promise<CheckpointStore> {
    const resolved = typeof options === 'number' ? { intervalMs: options } : options;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new CheckpointStore(path, {}, resolved);
      throw new ConnectorError('checkpoint', `cannot read checkpoint ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    let parsed: CheckpointFile;
    try {
      parsed = JSON.parse(text) as CheckpointFile;
    } catch (error) {
      throw new ConnectorError('checkpoint', `checkpoint ${path} is not JSON; remove it to start over`, {
        cause: error,
      });
    }
    if (parsed.version !== 1 || typeof parsed.files !== 'object' || parsed.files === null) {
      throw new ConnectorError(
        'checkpoint',
        `checkpoint ${path} has an unknown format; remove it to start over`,
      );
    }
    for (const [file, position] of Object.entries(parsed.files)) {
      if (!validPartitionState(position)) {
        throw new ConnectorError(
          'checkpoint',
          `checkpoint ${path}: the entry of ${file} is malformed (sequenceIds must be integers >= -1, partitions a positive integer with at most that many sequenceIds); remove the checkpoint to start over`,
        );
      }
    }
    return new CheckpointStore(path, parsed.files, resolved);
  }

  get(file: string): FilePosition | undefined {
    return this.files.get(file);
  }

  /** The error the store gave up with, if it did. */
  get failed(): ConnectorError | undefined {
    return this.failure;
  }

  /** Calls `listener` once the store gives up; returns the function that removes it. */
  onFailure(listener: (error: ConnectorError) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records progress; saved within `intervalMs` (later while saves are failing). */
  set(file: string, position: FilePosition): void {
    this.files.set(file, position);
    this.dirty = true;
    if (this.timer === undefined && this.failures === 0) this.scheduleSave(this.options.intervalMs ?? 200);
  }

  private scheduleSave(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.save();
    }, delayMs);
  }

  /** One attempt to save what is recorded; on failure, logs and schedules a retry or gives up. Never rejects. */
  private save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      if (!this.dirty || this.failure !== undefined) return;
      this.dirty = false;
      const body: CheckpointFile = { version: 1, files: Object.fromEntries(this.files) };
      try {
        await mkdir(dirname(this.path), { recursive: true });
        await writeFileAtomic(this.path, `${JSON.stringify(body, null, 2)}\n`);
      } catch (error) {
        this.dirty = true;
        this.recordFailure(error);
        return;
      }
      if (this.failures > 0)
        this.logger.info({ path: this.path, failures: this.failures }, 'checkpoint saved again');
      this.failures = 0;
      // Recorded while this save ran: save that too, within the interval.
      if (this.dirty && this.timer === undefined) this.scheduleSave(this.options.intervalMs ?? 200);
    });
    return this.saving;
  }

  private recordFailure(error: unknown): void {
    this.failures += 1;
    const maxFailures = this.options.maxFailures ?? 8;
    const reason = (error as Error).message;
    if (this.failures >= maxFailures) {
      this.failure = new ConnectorError(
        'checkpoint',
        `cannot save checkpoint ${this.path} (${this.failures} attempts failed): ${reason}`,
        { cause: error, retryable: true },
      );
      clearTimeout(this.timer);
      this.timer = undefined;
      this.logger.error({ path: this.path, err: this.failure }, 'checkpoint save failed; giving up');
      for (const listener of this.listeners) listener(this.failure);
      return;
    }
    const delayMs = this.retryDelay();
    this.logger.warn(
      { path: this.path, attempt: this.failures, maxFailures, retryInMs: delayMs, err: error as Error },
      'checkpoint save failed; retrying',
    );
    this.scheduleSave(delayMs);
  }

  private retryDelay(): number {
    const first = this.options.retryDelayMs ?? 100;
    return Math.min(this.options.maxRetryDelayMs ?? 2000, first * 2 ** (this.failures - 1));
  }

  /**
   * Saves now what was recorded so far, retrying as a timed save would.
   * @throws ConnectorError once the store gave up.
   */
  async flush(): Promise<void> {
    for (;;) {
      clearTimeout(this.timer);
      this.timer = undefined;
      await this.save();
      if (this.failure !== undefined) throw this.failure;
      if (!this.dirty) return;
      await new Promise((resolve) => setTimeout(resolve, this.retryDelay()));
    }
  }
}

/**
 * File source: one file as a `Readable` of messages to publish (`Tracked` values: a producer marks
 * each written when the broker acknowledged it). With a checkpoint, the acknowledged prefix of the
 * file (identity, offset, message count) is recorded, so a restart resumes after it: nothing lost,
 * nothing acknowledged sent again (what was acknowledged but not yet checkpointed when a crash hit
 * is sent again; dedup makes the broker drop it). `follow` tails the file for appended data and
 * survives rotation (a new file at the path: the old one is read to its end first) and truncation
 * (copytruncate: reading restarts at 0). Between two polls a truncation is seen by the size (below
 * what was read) or, when the file was rewritten past that size, by its first bytes (up to 1 KiB,
 * remembered as read) no longer being the same; a replacement by the inode. A rewrite that keeps
 * the same first bytes and grows past the position in one poll interval cannot be told from an
 * append.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectorError, InvalidArgumentError } from '../errors.js';
import type { ProducerMessageObject } from '../streams/producer-message.js';
import { AckedPrefix } from '../streams/acked-prefix.js';
import { Tracked, type WriteReceipt } from '../streams/tracked.js';
import type { CheckpointStore, FilePosition } from './checkpoint.js';
import {
  createFramer,
  FRAMINGS,
  toProducerMessage,
  type Framer,
  type Framing,
  type NdjsonMapping,
} from './framing.js';

/** How much of a file's start is remembered to notice it was rewritten in place. */
const FINGERPRINT_BYTES = 1024;

export interface FileSourceOptions extends NdjsonMapping {
  /** @default 'lines' */
  readonly format?: Framing;
  /** raw: send fixed-size chunks of this many bytes; default: the whole file as one message. */
  readonly chunkBytes?: number;
  /** Keep reading appended data; survive rotation and truncation. @default false */
  readonly follow?: boolean;
  /** follow: how often to look for new data, in ms. @default 250 */
  readonly pollIntervalMs?: number;
  /** Where acknowledged progress is recorded and resumed from. */
  readonly checkpoint?: CheckpointStore;
  /** A line (or raw file) longer than this is an error naming the file and line. @default 4 MiB */
  readonly maxRecordBytes?: number;
  /** Bytes per read (larger reads cost less CPU per line: 256 KiB took a tenth off 64 KiB). @default 262144 */
  readonly readBytes?: number;
}

interface Identity {
  readonly dev: number;
  readonly ino: number;
}

/** One acknowledged message: where it ended in which file, and where an effectively-once producer put it. */
interface AckedMessage {
  readonly identity: Identity;
  readonly end: number;
  readonly receipt: WriteReceipt | undefined;
}

/**
 * Acknowledgements can come out of order (partitioned topics): the checkpoint follows their
 * contiguous prefix, and with it each partition's last sequence id within that prefix. The
 * producer bounds how far past a gap acknowledgements can run (its `maxInFlight`).
 */
class CheckpointedPrefix {
  private readonly prefix: AckedPrefix<AckedMessage>;
  /** Per partition, the last sequence id within the prefix; undefined until a partition is seen. */
  private sequenceIds: number[] | undefined;
  /** The partition count the producer routes over (from the receipts), or as last checkpointed. */
  private partitions: number | undefined;

  constructor(
    start: FilePosition | undefined,
    private readonly onAdvance: (position: FilePosition) => void,
  ) {
    this.prefix = new AckedPrefix(start?.messages ?? 0);
    this.sequenceIds = start?.sequenceIds === undefined ? undefined : [...start.sequenceIds];
    this.partitions = start?.partitions;
  }

  acked(ordinal: number, message: AckedMessage): void {
    const advanced = this.prefix.acked(ordinal, message);
    const last = advanced.at(-1);
    if (last === undefined) return;
    for (const { receipt } of advanced) {
      if (receipt?.partition === undefined || receipt.sequenceId === undefined) continue;
      this.sequenceIds ??= [];
      if (receipt.partitionCount !== undefined) this.partitions = receipt.partitionCount;
      // One entry per partition of the topic, so that a restart compares counts, not the highest
      // partition a message happened to reach: partitions with no message yet stay at -1.
      const length = Math.max(this.partitions ?? 0, receipt.partition + 1);
      while (this.sequenceIds.length < length) this.sequenceIds.push(-1);
      this.sequenceIds[receipt.partition] = receipt.sequenceId;
    }
    this.onAdvance({
      ...last.identity,
      offset: last.end,
      messages: this.prefix.next,
      ...(this.sequenceIds === undefined
        ? {}
        : {
            sequenceIds: [...this.sequenceIds],
            ...(this.partitions === undefined ? {} : { partitions: this.partitions }),
          }),
    });
  }
}

function resolveFormat(options: FileSourceOptions): Framing {
  const format = options.format ?? 'lines';
  if (!FRAMINGS.includes(format)) {
    throw new InvalidArgumentError(
      `expected \`format\` to be one of ${FRAMINGS.join(', ')}, got ${JSON.stringify(format)}`,
    );
  }
  if (options.chunkBytes !== undefined && !(Number.isInteger(options.chunkBytes) && options.chunkBytes > 0)) {
    throw new InvalidArgumentError(
      `expected \`chunkBytes\` to be a positive integer, got ${options.chunkBytes}`,
    );
  }
  return format;
}

export class FileSource extends Readable {
  /** The ordinal of the first message this source emits (messages before it were acknowledged). */
  readonly firstMessage: number;
  /**
   * From the checkpoint, effectively-once into a partitioned topic: per partition, the sequence id
   * of the last message before `firstMessage` (the producer's `partitionSequenceIds`), one entry
   * per partition the topic had then (-1: none went to it), so the producer can tell a topic that
   * gained partitions since.
   */
  readonly partitionSequenceIds: readonly number[] | undefined;
  /** The records of each read, a batch at a time: one await per read, not per record. */
  private readonly records: AsyncGenerator<readonly Tracked<ProducerMessageObject>[]>;
  /** The batch being pushed, and how far: pushing stops where the buffer is full and goes on from there. */
  private batch: readonly Tracked<ProducerMessageObject>[] = [];
  private batchPushed = 0;
  private pumping = false;
  /** The pump in progress (settles when it stops); `_destroy` waits for it before closing the file. */
  private pumpRun: Promise<void> = Promise.resolve();
  /** Aborted on destroy: a follow loop waiting for data stops at once instead of never yielding. */
  private readonly stopping = new AbortController();
  private readonly stopWatchingCheckpoint: () => void;

  private constructor(
    readonly path: string,
    private handle: FileHandle,
    private identity: Identity,
    start: FilePosition | undefined,
    private readonly options: FileSourceOptions,
  ) {
    super({ objectMode: true, highWaterMark: 64 });
    this.firstMessage = start?.messages ?? 0;
    const { sequenceIds, partitions = 0 } = start ?? {};
    this.partitionSequenceIds =
      sequenceIds === undefined
        ? undefined
        : [...sequenceIds, ...Array.from({ length: Math.max(0, partitions - sequenceIds.length) }, () => -1)];
    const checkpoint = options.checkpoint;
    const prefix = new CheckpointedPrefix(start, (position) => checkpoint?.set(path, position));
    // A checkpoint that can no longer be saved ends the source: going on would publish what a
    // restart cannot resume after.
    this.stopWatchingCheckpoint = checkpoint?.onFailure((error) => this.destroy(error)) ?? (() => undefined);
    this.records = this.frames(start?.offset ?? 0, this.firstMessage, prefix);
  }

  /**
   * Opens `path`, resuming after its checkpoint when the checkpoint names the same file (device and
   * inode) and the file is not shorter than the checkpointed offset.
   * @throws ConnectorError when the file cannot be opened.
   */
  static async open(path: string, options: FileSourceOptions = {}): Promise<FileSource> {
    resolveFormat(options);
    const failed = options.checkpoint?.failed;
    if (failed !== undefined) throw failed;
    const absolute = resolve(path);
    let handle: FileHandle;
    try {
      handle = await open(absolute, 'r');
    } catch (error) {
      throw new ConnectorError('file', `cannot open ${path}: ${(error as Error).message}`, { cause: error });
    }
    const info = await handle.stat();
    const identity = { dev: info.dev, ino: info.ino };
    const saved = options.checkpoint?.get(absolute);
    let start: FilePosition | undefined;
    if (saved !== undefined) {
      const sameFile = saved.dev === identity.dev && saved.ino === identity.ino && saved.offset <= info.size;
      // Another file at the path (rotated while we were down), or truncated: start it from 0, but keep
      // counting messages so that sequence ids (dedup) keep growing.
      start = sameFile
        ? saved
        : {
            ...identity,
            offset: 0,
            messages: saved.messages,
            ...(saved.sequenceIds === undefined ? {} : { sequenceIds: saved.sequenceIds }),
            ...(saved.partitions === undefined ? {} : { partitions: saved.partitions }),
          };
    }
    return new FileSource(absolute, handle, identity, start, options);
  }

  override _read(): void {
    if (!this.pumping) this.pumpRun = this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        while (this.batchPushed < this.batch.length) {
          const record = this.batch[this.batchPushed++];
          if (record !== undefined && !this.push(record)) return;
        }
        const next = await this.records.next();
        if (next.done === true) {
          this.push(null);
          return;
        }
        this.batch = next.value;
        this.batchPushed = 0;
      }
    } catch (error) {
      this.destroy(error as Error);
    } finally {
      this.pumping = false;
    }
  }

  private async *frames(
    offset: number,
    firstOrdinal: number,
    prefix: CheckpointedPrefix,
  ): AsyncGenerator<readonly Tracked<ProducerMessageObject>[]> {
    const format = resolveFormat(this.options);
    const mapping = { keyField: this.options.keyField, propertiesField: this.options.propertiesField };
    const buffer = Buffer.alloc(this.options.readBytes ?? 262_144);
    const framing = {
      format,
      ...(this.options.chunkBytes === undefined ? {} : { chunkBytes: this.options.chunkBytes }),
      maxRecordBytes: this.options.maxRecordBytes ?? 4 * 1024 * 1024,
      describe: (line: number) => `${this.path}:${line}`,
    };
    const framer: Framer = createFramer(offset, framing);
    let ordinal = firstOrdinal;
    let position = offset;
    /** The file's first bytes as read so far (follow only): a rewrite in place changes them. */
    let fingerprint: Buffer = Buffer.alloc(0);
    const remember = async (): Promise<void> => {
      const want = Math.min(FINGERPRINT_BYTES, position);
      if (this.options.follow !== true || want <= fingerprint.length) return;
      fingerprint = await this.readStart(want);
    };
    await remember();
    const emit = (records: ReturnType<Framer['push']>): Tracked<ProducerMessageObject>[] =>
      records.map((record) => {
        const mine = ordinal++;
        const identity = this.identity;
        const message = toProducerMessage(record, format, mapping, this.path);
        return new Tracked(message, (receipt) => prefix.acked(mine, { identity, end: record.end, receipt }));
      });
    for (;;) {
      const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, position);
      if (bytesRead > 0) {
        position += bytesRead;
        await remember();
        yield emit(framer.push(buffer.subarray(0, bytesRead)));
        continue;
      }
      if (this.options.follow !== true) {
        yield emit(framer.flush());
        return;
      }
      await sleep(this.options.pollIntervalMs ?? 250, undefined, { signal: this.stopping.signal });
      const current = await stat(this.path).catch(() => undefined);
      if (current === undefined) continue; // rotated away; the new file is not there yet
      if (current.ino !== this.identity.ino || current.dev !== this.identity.dev) {
        // Rotation: read the old file to its end (it may have grown while we slept); its unterminated
        // last line is complete now.
        for (;;) {
          const rest = await this.handle.read(buffer, 0, buffer.length, position);
          if (rest.bytesRead === 0) break;
          position += rest.bytesRead;
          yield emit(framer.push(buffer.subarray(0, rest.bytesRead)));
        }
        yield emit(framer.flush());
        await this.handle.close();
        this.handle = await open(this.path, 'r');
        this.identity = { dev: current.dev, ino: current.ino };
        position = 0;
        framer.reset(0);
        fingerprint = Buffer.alloc(0);
      } else if (current.size < position || !(await this.readStart(fingerprint.length)).equals(fingerprint)) {
        // Truncated in place (copytruncate), maybe rewritten past our position since: start over; an
        // unterminated partial line is gone with it.
        position = 0;
        framer.reset(0);
        fingerprint = Buffer.alloc(0);
      }
    }
  }

  /** The first `bytes` of the open file (fewer when it is shorter). */
  private async readStart(bytes: number): Promise<Buffer> {
    if (bytes === 0) return Buffer.alloc(0);
    const start = Buffer.alloc(bytes);
    const { bytesRead } = await this.handle.read(start, 0, bytes, 0);
    return start.subarray(0, bytesRead);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stopWatchingCheckpoint();
    this.stopping.abort();
    // A generator runs `return()` only once it yields; a pump in progress ends first (the abort
    // above ends a follow wait; its AbortError then goes to destroy(), which is a no-op by now).
    this.pumpRun
      .then(() => this.records.return(undefined))
      .then(() => this.handle.close())
      .then(
        () => callback(error),
        (closeError: unknown) => callback(error ?? (closeError as Error)),
      );
  }
}

/**
 * File sink: messages appended to a file as `lines` or `ndjson` records, acknowledged only once the
 * data is on disk (fsync at an interval, on rotation and on close), never before. Rotation by size
 * and by time renames the file (file-sink-rotation.ts) and starts a new one. On open, a torn last
 * record left by a crash (no final newline) is cut off: its message was never acknowledged, so it
 * comes again, instead of being glued to new data.
 *
 * Write errors: a batch is written whole (short writes are completed, src/fs/record-file.ts). A write
 * that fails (`ENOSPC`, `EDQUOT`, `EIO`, …) cuts the file back to the end of its last complete record,
 * makes what is complete durable (and recorded, with exactly-once) and acknowledges that, never the
 * batch that failed; then the sink fails with an error naming the file. A failed fsync or state save
 * fails it too, acknowledging nothing it would have covered.
 *
 * With `exactlyOnce` (Exclusive or Failover subscriptions, of any topics and partitions), a state
 * file (offset + the last message id of each topic-partition, file-sink-exactly-once.ts) describes
 * the output from before its first byte and moves on after each fsync, before the
 * acknowledgements: on open the file is cut back to the recorded offset and redelivered messages up
 * to their topic-partition's recorded id are acknowledged without being written again, so after any
 * number of crashes, at any moment, the file holds each message once, and each topic-partition's
 * messages in order (the order across topic-partitions is the order they arrived in).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { ConnectorError, InvalidArgumentError } from '../errors.js';
import { syncDirectory } from '../fs/atomic-file.js';
import { appendAll, cutTornTail } from '../fs/record-file.js';
import { messageIdDataOf, type ConsumerMessage } from '../streams/consumer-message.js';
import { settlementOf, type Tracked } from '../streams/tracked.js';
import { ExactlyOnceOutput, type Positions } from './file-sink-exactly-once.js';
import { Rotations } from './file-sink-rotation.js';
import type { ExactlyOnceOptions } from './file-sink-state.js';
import { checkSinkFormat, pushRecord, type SinkFormat } from './sink-format.js';

export interface FileSinkOptions {
  /** @default 'lines' */
  readonly format?: SinkFormat;
  /** Rotate once the file holds this many bytes. */
  readonly rotateBytes?: number;
  /** Rotate a non-empty file this often, in ms. */
  readonly rotateIntervalMs?: number;
  /** fsync (and acknowledge what it covers) at least this often, in ms. @default 1000 */
  readonly fsyncIntervalMs?: number;
  /** fsync early once this many messages wait for it. @default 10000 */
  readonly maxUnsyncedMessages?: number;
  /** Exactly-once output for this subscription (see above); off when absent. */
  readonly exactlyOnce?: ExactlyOnceOptions;
  readonly logger?: Logger;
}

function positive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(`expected \`${name}\` to be a positive number, got ${value}`);
  }
}

/** A ConnectorError naming the file and what failed on it; the system error (its code) is the cause. */
function fileError(what: string, error: unknown): ConnectorError {
  return new ConnectorError('file', `${what}: ${(error as Error).message}`, { cause: error });
}

export class FileSink extends Writable {
  private readonly format: SinkFormat;
  private readonly logger: Logger;
  /** Acknowledgements of what was written since the last fsync. */
  private unsynced: (() => void)[] = [];
  /** Bytes in the file, all of them complete records (written whole). */
  private bytesInFile: number;
  private io: Promise<void> = Promise.resolve();
  private readonly fsyncTimer: NodeJS.Timeout;
  private readonly rotateTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly path: string,
    private handle: FileHandle,
    size: number,
    private readonly options: FileSinkOptions,
    private readonly exactly: ExactlyOnceOutput | undefined,
    private readonly rotations: Rotations,
  ) {
    super({ objectMode: true, highWaterMark: 256 });
    this.format = options.format ?? 'lines';
    this.logger = options.logger ?? pino({ enabled: false });
    this.bytesInFile = size;
    this.fsyncTimer = setInterval(
      () => void this.schedule(() => this.sync()),
      options.fsyncIntervalMs ?? 1000,
    );
    this.rotateTimer =
      options.rotateIntervalMs === undefined
        ? undefined
        : setInterval(() => void this.schedule(() => this.rotateIfNotEmpty()), options.rotateIntervalMs);
  }

  /**
   * Opens (appends to) `path`, brought back to its last consistent state first: cut to the state
   * file's offset, whose state is then recorded before anything is written (exactly-once), or a torn
   * last record cut (at-least-once). @throws ConnectorError when it cannot.
   */
  static async open(path: string, options: FileSinkOptions = {}): Promise<FileSink> {
    checkSinkFormat(options.format ?? 'lines');
    positive('rotateBytes', options.rotateBytes);
    positive('rotateIntervalMs', options.rotateIntervalMs);
    positive('fsyncIntervalMs', options.fsyncIntervalMs);
    positive('maxUnsyncedMessages', options.maxUnsyncedMessages);
    let handle: FileHandle;
    try {
      handle = await open(path, 'a+');
    } catch (error) {
      throw fileError(`cannot open ${path} for writing`, error);
    }
    const logger = options.logger ?? pino({ enabled: false });
    try {
      let exactly: ExactlyOnceOutput | undefined;
      if (options.exactlyOnce === undefined) {
        const removed = await cutTornTail(handle);
        if (removed > 0) {
          logger.warn(
            { path, bytes: removed },
            'cut a torn last record left by a crash (its message was not acknowledged and comes again)',
          );
        }
      } else {
        exactly = await ExactlyOnceOutput.resume(path, handle, options.exactlyOnce, logger);
      }
      const { size } = await handle.stat();
      return new FileSink(path, handle, size, options, exactly, await Rotations.open(path));
    } catch (error) {
      await handle.close();
      if (error instanceof ConnectorError) throw error;
      throw fileError(`cannot open ${path}`, error);
    }
  }

  /**
   * For a stage before this sink that counts what the sink writes (`--count`): a predicate telling,
   * message by message in the order they come, whether this sink will write it (with exactly-once,
   * false for a redelivery of a message it has; always true otherwise). Call before writing.
   */
  willWrite(): (message: ConsumerMessage) => boolean {
    const exactly = this.exactly?.willWrite();
    if (exactly === undefined) return () => true;
    return (message) => exactly(message.topic, messageIdDataOf(message));
  }

  /** Runs file operations one after another; a failure destroys the sink. */
  private schedule(operation: () => Promise<void>): Promise<void> {
    this.io = this.io.then(operation);
    this.io.catch((error: unknown) => this.destroy(error as Error));
    return this.io;
  }

  override _write(
    chunk: ConsumerMessage | Tracked<ConsumerMessage>,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(
    chunks: { chunk: ConsumerMessage | Tracked<ConsumerMessage> }[],
    callback: (error?: Error | null) => void,
  ): void {
    const parts: Buffer[] = [];
    const acks: (() => void)[] = [];
    // The newest message of each topic-partition in `data`: the state may name them only once `data` is in the file.
    const newest: Positions = new Map();
    for (const { chunk } of chunks) {
      const { value, written } = settlementOf(chunk);
      let taken: boolean;
      try {
        taken = this.takeIn(value, newest);
      } catch (error) {
        callback(error as Error);
        return;
      }
      // Not taken: in the file already (queued, or covered by the state file). Acknowledged with
      // the next fsync, which makes sure the copy in the file is durable first.
      if (taken) pushRecord(parts, value, this.format);
      acks.push(written);
    }
    const data = Buffer.concat(parts);
    this.schedule(async () => {
      await this.append(data);
      this.exactly?.wrote(newest);
      this.unsynced.push(...acks);
      if (this.options.rotateBytes !== undefined && this.bytesInFile >= this.options.rotateBytes)
        await this.rotate();
      else if (this.unsynced.length >= (this.options.maxUnsyncedMessages ?? 10_000)) await this.sync();
    }).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  /**
   * Whether `message` is to be written: always at-least-once; with exactly-once, unless it is at or
   * before the last message of its topic-partition taken in (a redelivery), else it becomes that
   * topic-partition's newest (in `newest` too).
   * @throws ConnectorError for a message whose topic is unknown, or past the state's bound.
   */
  private takeIn(message: ConsumerMessage, newest: Positions): boolean {
    const exactly = this.exactly;
    if (exactly === undefined) return true;
    const id = messageIdDataOf(message);
    const topic = exactly.topicOf(message.topic, id);
    if (exactly.alreadyWritten(topic, message.messageId, id)) return false;
    newest.set(topic, { text: message.messageId, id });
    return true;
  }

  /**
   * Appends `data` (whole records) to the file. When that fails, the file is cut back to its last
   * complete record and what is complete is made durable and acknowledged; the batch that failed is
   * not acknowledged. @throws ConnectorError naming the file, with the system error (`ENOSPC`, …).
   */
  private async append(data: Buffer): Promise<void> {
    try {
      await appendAll(this.handle, data);
    } catch (error) {
      const failure = fileError(`cannot write ${this.path}`, error);
      await this.cutBack(failure);
      throw failure;
    }
    this.bytesInFile += data.length;
  }

  /** After a failed write: the file back to its complete records, the state (and acks) to match them. */
  private async cutBack(failure: ConnectorError): Promise<void> {
    try {
      await this.handle.truncate(this.bytesInFile);
      await this.sync();
      this.logger.warn(
        { path: this.path, offset: this.bytesInFile },
        'write failed: cut the file back to its last complete record',
      );
    } catch (error) {
      // Reported with the write's error (the one that stops the sink); the state file on disk still
      // covers no more than the file's complete records, so a restart cuts the rest.
      this.logger.warn(
        { path: this.path, err: error as Error, failure: failure.message },
        'write failed, and so did cutting the file back; a restart cuts it back to the state file',
      );
    }
  }

  /** fsync, record the exactly-once state, then acknowledge everything it covers. */
  private async sync(): Promise<void> {
    if (this.unsynced.length === 0) return;
    const acks = this.unsynced;
    this.unsynced = [];
    try {
      await this.handle.sync();
    } catch (error) {
      throw fileError(`cannot fsync ${this.path}`, error);
    }
    await this.exactly?.save(this.bytesInFile);
    for (const ack of acks) ack();
  }

  private async rotateIfNotEmpty(): Promise<void> {
    if (this.bytesInFile > 0) await this.rotate();
  }

  private async rotate(): Promise<void> {
    await this.sync();
    await this.handle.close();
    const bytes = this.bytesInFile;
    let target: string;
    try {
      target = await this.rotations.rotate();
      this.handle = await open(this.path, 'a+');
      // The rename and the new file are durable only once the directory is synced.
      await syncDirectory(dirname(this.path));
      this.bytesInFile = (await this.handle.stat()).size;
    } catch (error) {
      throw fileError(`cannot rotate ${this.path}`, error);
    }
    this.logger.info({ path: this.path, rotatedTo: target, bytes }, 'rotated');
    // The state now describes the new file (a crash before this leaves a state naming the rotated
    // file: open() then cuts the new one to 0, its messages were not acknowledged).
    await this.exactly?.newFile(this.handle, this.bytesInFile);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.stopTimers();
    this.schedule(async () => {
      await this.sync();
      await this.handle.close();
    }).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  private stopTimers(): void {
    clearInterval(this.fsyncTimer);
    clearInterval(this.rotateTimer);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stopTimers();
    // Torn down: what was not fsynced is not acknowledged (it comes again).
    this.unsynced = [];
    this.io
      // A failed operation already destroyed the sink with its error; what is left is to close.
      .catch(() => undefined)
      .then(() => this.handle.close())
      .then(
        () => callback(error),
        // Already closed by _final: nothing left to release.
        () => callback(error),
      );
  }
}

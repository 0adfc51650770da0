/**
 * File sink: messages appended to a file as `lines` or `ndjson` records, acknowledged only once the
 * data is on disk (fsync at an interval, on rotation and on close), never before. Rotation by size
 * and by time renames the file to `<path>.<UTC time>-<n>` and starts a new one. On open, a torn last
 * record left by a crash (no final newline) is cut off: its message was never acknowledged, so it
 * comes again, instead of being glued to new data.
 */
import { open, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { ConnectorError, InvalidArgumentError } from '../errors.js';
import { syncDirectory } from '../fs/atomic-file.js';
import type { ConsumerMessage } from '../streams/consumer-message.js';
import { settlementOf, type Tracked } from '../streams/tracked.js';
import { checkSinkFormat, encodeRecord, type SinkFormat } from './sink-format.js';

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
  readonly logger?: Logger;
}

function positive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(`expected \`${name}\` to be a positive number, got ${value}`);
  }
}

/** Cuts an unterminated last record; returns the bytes removed. */
async function repairTornTail(handle: FileHandle): Promise<number> {
  const { size } = await handle.stat();
  if (size === 0) return 0;
  const window = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - window.length);
    const { bytesRead } = await handle.read(window, 0, end - start, start);
    const slice = window.subarray(0, bytesRead);
    const newline = slice.lastIndexOf(0x0a);
    if (newline >= 0) {
      const keep = start + newline + 1;
      if (keep < size) await handle.truncate(keep);
      return size - keep;
    }
    end = start;
  }
  await handle.truncate(0);
  return size;
}

export class FileSink extends Writable {
  private readonly format: SinkFormat;
  private readonly logger: Logger;
  /** Acknowledgements of what was written since the last fsync. */
  private unsynced: (() => void)[] = [];
  private bytesInFile: number;
  private io: Promise<void> = Promise.resolve();
  private readonly fsyncTimer: NodeJS.Timeout;
  private readonly rotateTimer: NodeJS.Timeout | undefined;
  private rotations = 0;

  private constructor(
    readonly path: string,
    private handle: FileHandle,
    size: number,
    private readonly options: FileSinkOptions,
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

  /** Opens (appends to) `path`, repairing a torn last record first. @throws ConnectorError when it cannot. */
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
      throw new ConnectorError('file', `cannot open ${path} for writing: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const removed = await repairTornTail(handle);
    if (removed > 0) {
      (options.logger ?? pino({ enabled: false })).warn(
        { path, bytes: removed },
        'cut a torn last record left by a crash (its message was not acknowledged and comes again)',
      );
    }
    const { size } = await handle.stat();
    return new FileSink(path, handle, size, options);
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
    for (const { chunk } of chunks) {
      const { value, written } = settlementOf(chunk);
      parts.push(encodeRecord(value, this.format));
      acks.push(written);
    }
    const data = Buffer.concat(parts);
    this.schedule(async () => {
      await this.handle.write(data);
      this.bytesInFile += data.length;
      this.unsynced.push(...acks);
      if (this.options.rotateBytes !== undefined && this.bytesInFile >= this.options.rotateBytes)
        await this.rotate();
      else if (this.unsynced.length >= (this.options.maxUnsyncedMessages ?? 10_000)) await this.sync();
    }).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  /** fsync, then acknowledge everything it covers. */
  private async sync(): Promise<void> {
    if (this.unsynced.length === 0) return;
    const acks = this.unsynced;
    this.unsynced = [];
    await this.handle.sync();
    for (const ack of acks) ack();
  }

  private async rotateIfNotEmpty(): Promise<void> {
    if (this.bytesInFile > 0) await this.rotate();
  }

  private async rotate(): Promise<void> {
    await this.sync();
    await this.handle.close();
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const target = `${this.path}.${stamp}-${++this.rotations}`;
    await rename(this.path, target);
    this.logger.info({ path: this.path, rotatedTo: target, bytes: this.bytesInFile }, 'rotated');
    this.handle = await open(this.path, 'a+');
    // The rename and the new file are durable only once the directory is synced.
    await syncDirectory(dirname(this.path));
    this.bytesInFile = (await stat(this.path)).size;
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

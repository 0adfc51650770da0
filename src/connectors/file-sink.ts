/**
 * File sink: messages appended to a file as `lines` or `ndjson` records, acknowledged only once the
 * data is on disk (fsync at an interval, on rotation and on close), never before. Rotation by size
 * and by time renames the file to `<path>.<UTC time>-<n>` and starts a new one. On open, a torn last
 * record left by a crash (no final newline) is cut off: its message was never acknowledged, so it
 * comes again, instead of being glued to new data.
 *
 * With `exactlyOnce` (one non-partitioned topic on an Exclusive or Failover subscription), each fsync
 * is followed by a durable state file (offset + last message id, see file-sink-state.ts) before the
 * acknowledgements: on open the file is cut back to the recorded offset and redelivered messages up
 * to the recorded id are acknowledged without being written again, so after any number of crashes
 * the file holds each message once, in order. Messages from a partitioned topic (ids with a
 * partition) have no single order: the sink then says so, removes the state file and goes on
 * at-least-once.
 */
import { open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { ConnectorError, InvalidArgumentError } from '../errors.js';
import { syncDirectory } from '../fs/atomic-file.js';
import type { ConsumerMessage } from '../streams/consumer-message.js';
import { decodeMessageId, type MessageIdData } from '../protocol/index.js';
import { settlementOf, type Tracked } from '../streams/tracked.js';
import {
  isAtOrBefore,
  readSinkState,
  STATE_SUFFIX,
  writeSinkState,
  type ExactlyOnceOptions,
  type SinkState,
} from './file-sink-state.js';
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
  /** Exactly-once output for this subscription (see above); off when absent. */
  readonly exactlyOnce?: ExactlyOnceOptions;
  readonly logger?: Logger;
}

/** The exactly-once bookkeeping of an open sink. */
interface ExactlyOnce {
  readonly statePath: string;
  readonly topic: string;
  readonly subscription: string;
  /** The last message durably written (from the state file, then from each sync). */
  last: { readonly text: string; readonly id: MessageIdData } | undefined;
  /** The last message written to the file and not yet covered by a state file. */
  pending: { readonly text: string; readonly id: MessageIdData } | undefined;
  /** The newest message taken in (written, or queued to be): what redeliveries are compared with. */
  seen: { readonly text: string; readonly id: MessageIdData } | undefined;
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
    private exactly: ExactlyOnce | undefined,
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
    const logger = options.logger ?? pino({ enabled: false });
    try {
      const exactly = await FileSink.resume(path, handle, options, logger);
      const { size } = await handle.stat();
      const sink = new FileSink(path, handle, size, options, exactly);
      sink.rotations = await lastRotation(path);
      return sink;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Brings the file back to its last consistent state: cut to the state file's offset (exactly-once)
   * or cut a torn last record (at-least-once).
   */
  private static async resume(
    path: string,
    handle: FileHandle,
    options: FileSinkOptions,
    logger: Logger,
  ): Promise<ExactlyOnce | undefined> {
    const settings = options.exactlyOnce;
    const state =
      settings === undefined ? undefined : await readSinkState(statePathOf(path, settings), settings);
    if (state === undefined) {
      const removed = await repairTornTail(handle);
      if (removed > 0) {
        logger.warn(
          { path, bytes: removed },
          'cut a torn last record left by a crash (its message was not acknowledged and comes again)',
        );
      }
    } else {
      const { size, dev, ino } = await handle.stat();
      const sameFile = dev === state.dev && ino === state.ino;
      // Another file: made by a rotation after the state was saved, everything in it came later.
      const keep = sameFile ? Math.min(size, state.offset) : 0;
      if (size > keep) {
        // Written after the last state file: never acknowledged, it comes again.
        await handle.truncate(keep);
        await handle.sync();
        logger.info({ path, bytes: size - keep, offset: keep }, 'cut back to the recorded offset');
      }
    }
    if (settings === undefined) return undefined;
    return {
      statePath: statePathOf(path, settings),
      topic: settings.topic,
      subscription: settings.subscription,
      last:
        state === undefined
          ? undefined
          : { text: state.lastMessageId, id: decodeMessageId(state.lastMessageId) },
      pending: undefined,
      seen: undefined,
    };
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
      if (this.exactly !== undefined && this.alreadyWritten(value)) {
        // In the file and covered by the state file: acknowledge, do not write it again.
        written();
        continue;
      }
      parts.push(encodeRecord(value, this.format));
      acks.push(written);
    }
    const data = Buffer.concat(parts);
    // The newest message in `data`: the state may name it only once `data` is in the file.
    const newest = this.exactly?.seen;
    this.schedule(async () => {
      await this.handle.write(data);
      if (this.exactly !== undefined && newest !== undefined) this.exactly.pending = newest;
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

  /**
   * Exactly-once: whether `message` is at or before the last message written (a redelivery after a
   * restart); records it as the latest otherwise. A message from a partitioned topic turns
   * exactly-once off.
   */
  private alreadyWritten(message: ConsumerMessage): boolean {
    const exactly = this.exactly;
    if (exactly === undefined) return false;
    const id = decodeMessageId(message.messageId);
    if (id.partition >= 0) {
      this.exactly = undefined;
      this.logger.warn(
        { path: this.path, statePath: exactly.statePath },
        'messages from a partitioned topic have no single order: exactly-once is off, at-least-once from here (state file removed)',
      );
      void this.schedule(() => rm(exactly.statePath, { force: true }));
      return false;
    }
    const newest = exactly.seen ?? exactly.last;
    if (newest !== undefined && isAtOrBefore(id, newest.id)) return true;
    exactly.seen = { text: message.messageId, id };
    return false;
  }

  /** fsync, record the exactly-once state, then acknowledge everything it covers. */
  private async sync(): Promise<void> {
    if (this.unsynced.length === 0) return;
    const acks = this.unsynced;
    this.unsynced = [];
    await this.handle.sync();
    await this.saveState();
    for (const ack of acks) ack();
  }

  /** Exactly-once: the state file now covers everything written (call after an fsync only). */
  private async saveState(): Promise<void> {
    const exactly = this.exactly;
    if (exactly === undefined) return;
    const last = exactly.pending ?? exactly.last;
    if (last === undefined) return;
    const { dev, ino } = await this.handle.stat();
    const state: SinkState = {
      version: 1,
      topic: exactly.topic,
      subscription: exactly.subscription,
      dev,
      ino,
      offset: this.bytesInFile,
      lastMessageId: last.text,
    };
    await writeSinkState(exactly.statePath, state);
    exactly.last = last;
    exactly.pending = undefined;
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
    // Numbered on from the rotated files already there (lastRotation); never over an existing one.
    let target = `${this.path}.${stamp}-${++this.rotations}`;
    while (await exists(target)) target = `${this.path}.${stamp}-${++this.rotations}`;
    await rename(this.path, target);
    this.logger.info({ path: this.path, rotatedTo: target, bytes: this.bytesInFile }, 'rotated');
    this.handle = await open(this.path, 'a+');
    // The rename and the new file are durable only once the directory is synced.
    await syncDirectory(dirname(this.path));
    this.bytesInFile = (await stat(this.path)).size;
    // The state now describes the new file (a crash before this leaves a state naming the rotated
    // file: open() then cuts the new one to 0, its messages were not acknowledged).
    await this.saveState();
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

/**
 * The highest `<n>` among the rotated files of `path` (`<path>.<UTC time>-<n>`): a new run numbers on
 * from there, so that rotated names sort in the order they were made even within one second.
 */
async function lastRotation(path: string): Promise<number> {
  const prefix = `${basename(path)}.`;
  let last = 0;
  for (const name of await readdir(dirname(path))) {
    if (!name.startsWith(prefix)) continue;
    const match = /^\d{8}T\d{6}Z-(\d+)$/.exec(name.slice(prefix.length));
    if (match !== null) last = Math.max(last, Number(match[1]));
  }
  return last;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

/** Where the exactly-once state of the output `path` is kept. */
export function statePathOf(path: string, settings: ExactlyOnceOptions): string {
  return settings.statePath ?? `${path}${STATE_SUFFIX}`;
}

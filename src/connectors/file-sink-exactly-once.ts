/**
 * The exactly-once bookkeeping of a file sink (the state file's format is in file-sink-state.ts).
 *
 * The state on disk always describes the output file the sink writes to, from before its first
 * byte: on open the output is cut back to what the state covers and the state is recorded for the
 * file as it then is (its size, dev and ino) before anything is written; after each fsync it moves
 * on to cover what was written. So a crash at any moment leaves a state that a restart cuts the file
 * back to, and every message after it was never acknowledged and comes again.
 */
import type { FileHandle } from 'node:fs/promises';
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ConnectorError } from '../errors.js';
import { decodeMessageId, type MessageIdData } from '../protocol/index.js';
import { cutTornTail } from '../fs/record-file.js';
import {
  isAtOrBefore,
  readSinkState,
  statePathOf,
  writeSinkState,
  type ExactlyOnceOptions,
  type SinkState,
} from './file-sink-state.js';

/** A message id, as text (for the state file) and decoded (for comparisons). */
export interface Written {
  readonly text: string;
  readonly id: MessageIdData;
}

export class ExactlyOnceOutput {
  /** The newest message taken in (written, or queued to be): what redeliveries are compared with. */
  private seen: Written | undefined;
  /** The last message written to the file and not yet covered by the state file. */
  private pending: Written | undefined;

  private constructor(
    readonly statePath: string,
    private readonly settings: ExactlyOnceOptions,
    /** The output file the state describes. */
    private file: { readonly dev: number; readonly ino: number },
    /** The last message durably written (from the state file, then from each save). */
    private last: Written | undefined,
  ) {}

  /**
   * Brings the output open on `handle` back to what the state file covers (cut to its offset; a
   * file other than the one it names is cut to 0; with no state file, a torn last record is cut),
   * then records the state for the file as it now is, before anything is written to it.
   * @throws ConnectorError when the state file is unreadable, or cannot be written.
   */
  static async resume(
    path: string,
    handle: FileHandle,
    settings: ExactlyOnceOptions,
    logger: Logger,
  ): Promise<ExactlyOnceOutput> {
    const statePath = statePathOf(path, settings);
    const state = await readSinkState(statePath, settings);
    const { dev, ino, size: found } = await handle.stat();
    let size = found;
    if (state === undefined) {
      const removed = await cutTornTail(handle);
      if (removed > 0) {
        size -= removed;
        logger.warn(
          { path, bytes: removed },
          'cut a torn last record left by a crash (its message was not acknowledged and comes again)',
        );
      }
    } else {
      const sameFile = dev === state.dev && ino === state.ino;
      // Another file: made by a rotation after the state was saved, everything in it came later.
      const keep = sameFile ? Math.min(size, state.offset) : 0;
      if (size > keep) {
        // Written after the state was saved: never acknowledged, it comes again.
        await handle.truncate(keep);
        await handle.sync();
        logger.info({ path, bytes: size - keep, offset: keep }, 'cut back to the recorded offset');
      }
      size = keep;
    }
    const last =
      state?.lastMessageId === undefined
        ? undefined
        : { text: state.lastMessageId, id: decodeMessageId(state.lastMessageId) };
    const output = new ExactlyOnceOutput(statePath, settings, { dev, ino }, last);
    if (state === undefined || state.dev !== dev || state.ino !== ino || state.offset !== size)
      await output.save(size);
    return output;
  }

  /**
   * Whether the message `text` (decoded: `id`) is at or before the last one written (a redelivery
   * after a restart); records it as the newest taken in otherwise.
   */
  alreadyWritten(text: string, id: MessageIdData): boolean {
    const newest = this.seen ?? this.last;
    if (newest !== undefined && isAtOrBefore(id, newest.id)) return true;
    this.seen = { text, id };
    return false;
  }

  /** The newest message taken in so far: once a batch holding it is in the file, pass it to `wrote`. */
  get newest(): Written | undefined {
    return this.seen;
  }

  /** Everything up to `newest` is in the file (not durable yet). */
  wrote(newest: Written | undefined): void {
    if (newest !== undefined) this.pending = newest;
  }

  /**
   * The state now covers `offset` bytes of the file and everything written to it (call once they
   * are fsynced, or for the file as it is on open).
   * @throws ConnectorError naming the state file when it cannot be written.
   */
  async save(offset: number): Promise<void> {
    const last = this.pending ?? this.last;
    const state: SinkState = {
      version: 1,
      topic: this.settings.topic,
      subscription: this.settings.subscription,
      dev: this.file.dev,
      ino: this.file.ino,
      offset,
      ...(last === undefined ? {} : { lastMessageId: last.text }),
    };
    try {
      await writeSinkState(this.statePath, state);
    } catch (error) {
      throw new ConnectorError(
        'file',
        `cannot write state file ${this.statePath}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    this.last = last;
    this.pending = undefined;
  }

  /** A rotation started a new file on `handle`: the state describes it from here (call after the old one was saved). */
  async newFile(handle: FileHandle, offset: number): Promise<void> {
    const { dev, ino } = await handle.stat();
    this.file = { dev, ino };
    await this.save(offset);
  }

  /** Exactly-once is over (partitioned topic): the state file goes. */
  remove(): Promise<void> {
    return rm(this.statePath, { force: true });
  }
}

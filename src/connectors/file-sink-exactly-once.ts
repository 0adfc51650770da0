/**
 * The exactly-once bookkeeping of a file sink (the state file's format is in file-sink-state.ts):
 * one position per topic-partition, since only within one does the subscription deliver in order.
 *
 * The state on disk always describes the output file the sink writes to, from before its first
 * byte: on open the output is cut back to what the state covers and the state is recorded for the
 * file as it then is (its size, dev and ino) before anything is written; after each fsync it moves
 * on to cover what was written. So a crash at any moment leaves a state that a restart cuts the file
 * back to, and every message after it was never acknowledged and comes again.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ConnectorError } from '../errors.js';
import { decodeMessageId, type MessageIdData } from '../protocol/index.js';
import { cutTornTail } from '../fs/record-file.js';
import { messageTopicOf } from '../streams/topic-selection.js';
import {
  isAtOrBefore,
  MAX_STATE_POSITIONS,
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

/** The newest message of each topic-partition (full name) in a batch, or in the file. */
export type Positions = Map<string, Written>;

export class ExactlyOnceOutput {
  /** The newest message of each topic-partition taken in (written, or queued to be): what redeliveries are compared with. */
  private readonly seen: Positions = new Map();
  /** The last message of each topic-partition written to the file and not yet covered by the state file. */
  private readonly pending: Positions = new Map();

  private constructor(
    readonly statePath: string,
    private readonly settings: ExactlyOnceOptions,
    /** The output file the state describes. */
    private file: { readonly dev: number; readonly ino: number },
    /** The last message of each topic-partition durably written (from the state file, then from each save). */
    private last: Positions,
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
    const last: Positions = new Map(
      Object.entries(state?.positions ?? {}).map(([topic, text]) => [
        topic,
        { text, id: decodeMessageId(text) },
      ]),
    );
    const output = new ExactlyOnceOutput(statePath, settings, { dev, ino }, last);
    // A version 1 state is rewritten as version 2 too, before anything is written.
    if (
      state === undefined ||
      state.upgraded ||
      state.dev !== dev ||
      state.ino !== ino ||
      state.offset !== size
    )
      await output.save(size);
    return output;
  }

  /**
   * The topic-partition a message is positioned under: the message's `topic` (a partition's name
   * for a partitioned topic), else the configured topic with the id's partition.
   * @throws ConnectorError when neither says.
   */
  topicOf(topic: string | undefined, id: MessageIdData): string {
    if (topic !== undefined) return messageTopicOf(topic, id.partition);
    if (this.settings.topic !== undefined) return messageTopicOf(this.settings.topic, id.partition);
    throw new ConnectorError(
      'file',
      `exactly-once output ${this.statePath} needs each message's topic (consumer streams set it) or \`exactlyOnce.topic\``,
    );
  }

  /**
   * A predicate for the messages on their way to this sink, in the order it will take them in:
   * whether the sink will write each (false for a redelivery of one it has). For a stage before the
   * sink that counts written messages (`--count`). It keeps its own newest message per
   * topic-partition, seeded from the state as the sink's own is, so it decides as the sink will; its
   * map grows no further than the sink's (one entry per topic-partition, MAX_STATE_POSITIONS).
   * Call it before anything is written.
   */
  willWrite(): (topic: string | undefined, id: MessageIdData) => boolean {
    const newest = new Map<string, MessageIdData>([...this.last].map(([topic, { id }]) => [topic, id]));
    return (topic, id) => {
      const partition = this.topicOf(topic, id);
      const known = newest.get(partition);
      if (known !== undefined && isAtOrBefore(id, known)) return false;
      newest.set(partition, id);
      return true;
    };
  }

  /**
   * Whether the message `text` (decoded: `id`) of `topic` is at or before the last one written of
   * that topic-partition (a redelivery after a restart); records it as the newest taken in otherwise.
   * @throws ConnectorError when a new topic-partition would pass MAX_STATE_POSITIONS.
   */
  alreadyWritten(topic: string, text: string, id: MessageIdData): boolean {
    const newest = this.seen.get(topic) ?? this.last.get(topic);
    if (newest !== undefined && isAtOrBefore(id, newest.id)) return true;
    if (newest === undefined && this.last.size + this.seen.size >= MAX_STATE_POSITIONS) {
      const known = new Set([...this.last.keys(), ...this.seen.keys()]);
      if (known.size >= MAX_STATE_POSITIONS) {
        throw new ConnectorError(
          'file',
          `exactly-once output ${this.statePath} would track more than ${MAX_STATE_POSITIONS} topic-partitions (new: ${topic}); split the topics over several outputs`,
        );
      }
    }
    this.seen.set(topic, { text, id });
    return false;
  }

  /** Everything up to `newest` (of each topic-partition) is in the file (not durable yet). */
  wrote(newest: Positions): void {
    for (const [topic, written] of newest) this.pending.set(topic, written);
  }

  /**
   * The state now covers `offset` bytes of the file and everything written to it (call once they
   * are fsynced, or for the file as it is on open).
   * @throws ConnectorError naming the state file when it cannot be written.
   */
  async save(offset: number): Promise<void> {
    const positions = new Map(this.last);
    for (const [topic, written] of this.pending) positions.set(topic, written);
    const state: SinkState = {
      version: 2,
      subscription: this.settings.subscription,
      dev: this.file.dev,
      ino: this.file.ino,
      offset,
      positions: Object.fromEntries(
        [...positions].sort(([a], [b]) => (a < b ? -1 : 1)).map(([topic, { text }]) => [topic, text]),
      ),
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
    this.last = positions;
    this.pending.clear();
  }

  /** A rotation started a new file on `handle`: the state describes it from here (call after the old one was saved). */
  async newFile(handle: FileHandle, offset: number): Promise<void> {
    const { dev, ino } = await handle.stat();
    this.file = { dev, ino };
    await this.save(offset);
  }
}

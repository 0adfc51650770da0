/**
 * One reader session as a Node `Readable` (objectMode): a non-partitioned topic, one partition, or
 * Pulsar's own merged reader of a partitioned topic's base name. `ReaderStream` merges one or more
 * of these. Readers have no pull mode (docs/protocol.md §6.2): the server sends up to
 * `receiverQueueSize` messages not yet "acknowledged", and any frame the client sends frees one
 * slot. The stream opens with `receiverQueueSize` = its high-water mark and frees a slot as each
 * message leaves its buffer, so `buffered + in transit <= highWaterMark` holds as for consumers.
 * Reader acks acknowledge nothing on the broker: message `ack()`/`nack()` are no-ops.
 *
 * After a reconnect the reader resumes after the last message it emitted (`resumeFrom`). Pulsar's
 * merged reader of a partitioned topic's base name cannot start at a message id (HTTP 500), so such
 * a session (`mergesPartitions`) reconnects from its original start instead and drops what it
 * emitted already, by the last id of each partition: from earliest nothing is lost or repeated;
 * from latest, what was published while it was disconnected is not read. With `until`, the stream
 * ends after the message at that id (the topic's last message when the stream started; see
 * `reachesEnd` for a last entry that is a batch).
 */
import { Readable } from 'node:stream';
import type { StreamSession } from '../client/stream-session.js';
import { InvalidArgumentError, ProtocolError } from '../errors.js';
import {
  compareMessageIds,
  decodeMessageId,
  encodeAckFrame,
  MAX_RECEIVER_QUEUE_SIZE,
  type MessageIdData,
} from '../protocol/index.js';
import { isConsumerMessage, toConsumerMessage, type ConsumerMessage } from './consumer-message.js';
import { PIPE_RECEIVER_QUEUE_SIZE } from './consumer-stream.js';
import {
  bindSession,
  closeSession,
  connectSession,
  deliveredMessageOf,
  stopConnecting,
} from './session-glue.js';
import { messageTopicOf } from './topic-selection.js';

export interface ReaderSessionStreamOptions {
  /** Messages buffered plus messages in transit, at most (the reader's `receiverQueueSize`, <= 1000). @default 100 */
  readonly highWaterMark?: number;
  /**
   * Called before connecting: the id after which the stream ends, or null to end at once (an empty
   * topic, or a start already at the end). Undefined: the stream follows the topic forever. The
   * signal is aborted when the stream is destroyed first (an admin call still retrying stops).
   */
  readonly until?: (signal: AbortSignal) => Promise<MessageIdData | null>;
  /**
   * The full name of the topic read: each message carries it as `topic` (its partition's name,
   * from the message id, when Pulsar merges a partitioned topic's partitions).
   */
  readonly topic?: string;
  /**
   * The session reads a topic's base name from earliest or latest: if the topic is partitioned,
   * the server merges its partitions, and a reconnect starts over (see above).
   */
  readonly mergesPartitions?: boolean;
}

/** A reader's `PIPE_RECEIVER_QUEUE_SIZE`: Pulsar caps a reader's `receiverQueueSize` at 1000. */
export const PIPE_READER_QUEUE_SIZE = Math.min(PIPE_RECEIVER_QUEUE_SIZE, MAX_RECEIVER_QUEUE_SIZE);

/**
 * Whether a delivered message `id` is at or past `end`, the last message id the admin API gave. When
 * the last entry is a batch, Pulsar names the batch's last index and the stream ends there; an end
 * naming the entry only (batch index -1) is reached by a batched message once it is the batch's last
 * (index `batchSize - 1`, from the delivered id), or by any message of it when the id carries no
 * batch size.
 */
export function reachesEnd(id: MessageIdData, end: MessageIdData): boolean {
  const entryOrder = compareMessageIds({ ...id, batchIndex: -1 }, { ...end, batchIndex: -1 });
  if (entryOrder !== 0) return entryOrder > 0;
  if (id.batchIndex < 0) return true;
  if (end.batchIndex >= 0) return id.batchIndex >= end.batchIndex;
  return id.batchSize <= 0 || id.batchIndex >= id.batchSize - 1;
}

export function resolveReaderHighWaterMark(value: number | undefined): number {
  const highWaterMark = value ?? 100;
  if (!Number.isInteger(highWaterMark) || highWaterMark < 1 || highWaterMark > MAX_RECEIVER_QUEUE_SIZE) {
    throw new InvalidArgumentError(
      `expected \`highWaterMark\` to be an integer from 1 to ${MAX_RECEIVER_QUEUE_SIZE} for a reader (Pulsar caps receiverQueueSize there), got ${value}`,
    );
  }
  return highWaterMark;
}

const noop = (): void => undefined;

export class ReaderSessionStream extends Readable {
  /** Which connection delivered each buffered message: slots are freed only on that connection. */
  private readonly deliveredOn = new WeakMap<ConsumerMessage, number>();
  private lastEmitted: string | undefined;
  private endAt: MessageIdData | undefined;
  private ended = false;
  /**
   * With `mergesPartitions`, the last id emitted of each partition (at most one entry per
   * partition of the topic): after a reconnect, messages up to it are dropped.
   */
  private readonly lastByPartition = new Map<number, MessageIdData>();
  /** Stops `until`'s admin call when the stream is destroyed while it runs. */
  private readonly constructing = new AbortController();

  /** `session` must point at a reader URL with `receiverQueueSize` = the high-water mark. */
  constructor(
    private readonly session: StreamSession,
    private readonly options: ReaderSessionStreamOptions = {},
  ) {
    super({ objectMode: true, highWaterMark: resolveReaderHighWaterMark(options.highWaterMark) });
    bindSession(this, session, (text) => this.onFrame(text));
  }

  /**
   * The id to resume after (exclusive start) when reconnecting; undefined before the first message,
   * and when Pulsar merges the partitions (the session then starts over and skips what it emitted).
   */
  get resumeFrom(): string | undefined {
    return this.lastByPartition.size > 0 ? undefined : this.lastEmitted;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    if (this.options.until === undefined) {
      connectSession(this.session, callback);
      return;
    }
    this.options.until(this.constructing.signal).then(
      (endAt) => {
        if (endAt === null) {
          this.finish();
          callback();
          return;
        }
        this.endAt = endAt;
        connectSession(this.session, callback);
      },
      // Destroyed while the admin call ran: its AbortError is not the stream's error.
      (error: unknown) => callback(this.constructing.signal.aborted ? null : (error as Error)),
    );
  }

  override _read(): void {
    // Messages arrive as the server's window allows; slots are freed as messages leave (emit).
  }

  /**
   * Every message leaves the stream as a `'data'` event (from `read()`, in flowing mode, or pushed
   * straight to a flowing consumer); each one frees a slot of the server's window, if it came on
   * the current connection (a new connection starts with a full window).
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const item = args[0];
    if (event === 'data' && isConsumerMessage(item) && !this.ended) {
      if (this.deliveredOn.get(item) === this.session.connectionId) {
        // Any frame frees a slot; an ack of the message read is the clearest one.
        this.session.send(encodeAckFrame(item.messageId));
      }
    }
    return super.emit(event, ...args);
  }

  private onFrame(text: string): void {
    if (this.ended) return;
    const frame = deliveredMessageOf(this, text, 'reader frame');
    if (frame === undefined) return;
    const id = this.decode(frame.messageId);
    if (id === undefined) return;
    if (this.options.mergesPartitions === true && id.partition >= 0) {
      const last = this.lastByPartition.get(id.partition);
      if (last !== undefined && compareMessageIds(id, last) <= 0) {
        // Emitted before a reconnect: dropped, and its slot of the window freed at once.
        this.session.send(encodeAckFrame(frame.messageId));
        return;
      }
      this.lastByPartition.set(id.partition, id);
    }
    const topic =
      this.options.topic === undefined ? undefined : messageTopicOf(this.options.topic, id.partition);
    const message = toConsumerMessage(frame, noop, topic, id);
    this.deliveredOn.set(message, this.session.connectionId);
    this.lastEmitted = frame.messageId;
    this.push(message);
    if (this.endAt !== undefined && reachesEnd(id, this.endAt)) this.finish();
  }

  private decode(messageId: string): MessageIdData | undefined {
    try {
      return decodeMessageId(messageId);
    } catch (error) {
      this.destroy(
        new ProtocolError(`the server sent a message id that does not decode: ${messageId}`, {
          cause: error,
        }),
      );
      return undefined;
    }
  }

  /** Ends the stream and closes the session: the end of the topic (as it was) is reached. */
  private finish(): void {
    this.ended = true;
    this.push(null);
    this.session.close().catch((error: unknown) => this.destroy(error as Error));
  }

  override destroy(error?: Error): this {
    this.constructing.abort();
    stopConnecting(this.session);
    return super.destroy(error);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    closeSession(this.session, error, callback);
  }
}

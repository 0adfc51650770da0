/**
 * The consumer endpoint as a Node `Readable` (objectMode) in pull mode: the server may send only as
 * many messages as the stream has asked for with `permit` frames, and the stream asks for exactly
 * the room its buffer has, so `buffered + outstanding permits <= highWaterMark` always holds and a
 * slow reader really holds the broker back. While permits are outstanding, new ones go out in
 * batches of at least half the high-water mark. After a reconnect the server has forgotten the
 * permits: they are granted again.
 *
 * Acknowledgement (`ackMode`): `after-write` (default) and `manual` leave it to what consumes the
 * stream (an acking sink, a producer, or the caller's `message.ack()`); `on-read` acknowledges each
 * message as it leaves the stream's buffer. Closing or destroying the stream acknowledges nothing
 * more, so the broker redelivers what was not acknowledged.
 */
import { Readable } from 'node:stream';
import { checkDuration } from '../client/duration.js';
import type { StreamSession } from '../client/stream-session.js';
import { InvalidArgumentError, ProtocolError } from '../errors.js';
import {
  decodeMessageId,
  type MessageIdData,
  encodeAckFrame,
  encodeNegativeAckFrame,
  encodePermitFrame,
} from '../protocol/index.js';
import { isConsumerMessage, toConsumerMessage } from './consumer-message.js';
import { RecentIds } from './recent-ids.js';
import { messageTopicOf } from './topic-selection.js';
import {
  bindSession,
  closeSession,
  connectSession,
  deliveredMessageOf,
  stopConnecting,
} from './session-glue.js';

/**
 * Who acknowledges: `after-write`, the sink once it wrote the message (acking sinks, producers,
 * connectors); `manual`, the caller; `on-read`, the stream, as each message is read (at-most-once
 * past that point).
 */
export type AckMode = 'after-write' | 'on-read' | 'manual';

export const ACK_MODES: readonly AckMode[] = ['after-write', 'on-read', 'manual'];

/** Messages handed downstream and not yet settled that the close grace waits for, at most. */
const MAX_TRACKED_HANDED_OUT = 100_000;
/**
 * Acks remembered for replay after a reconnect, at most. Acks sent into a connection that went
 * silent are lost without a trace; replaying the recent ones on the new connection, and acking
 * instead of emitting a redelivered message whose ack was sent before, keeps a lost path from
 * turning into duplicates downstream. 10 000 ids cover well over a detection window at hwm 1000.
 */
const MAX_REMEMBERED_ACKS = 10_000;

/**
 * The window the CLI's consuming commands and the sidecar's topic and reader sources open with
 * (`--receiver-queue-size`, `receiverQueueSize`), where one consumer has the process to itself and
 * a late permit frame must not drain the pipe. The stream's own default stays 100: a library user may
 * hold many consumers in one process, and each window costs up to that many messages of memory.
 * Why this number: BENCHMARKS.md, "Consumer window (`--receiver-queue-size`)".
 */
export const PIPE_RECEIVER_QUEUE_SIZE = 1000;

export interface ConsumerStreamOptions {
  /** Messages buffered plus messages asked for, at most. @default 100 */
  readonly highWaterMark?: number;
  /** @default 'after-write' */
  readonly ackMode?: AckMode;
  /**
   * How long `destroy()` without an error or with an `AbortError` (a `break`, a pipeline stage that
   * returned early, an abort signal) keeps the session open for messages already handed downstream
   * to be acknowledged, in ms. Their acks still count; what is not acknowledged by then is
   * redelivered. @default 2000
   */
  readonly closeGraceMs?: number;
  /**
   * The full name of the topic the session consumes: each message carries it as `topic`, as the
   * name of its partition (`…-partition-N`, from the message id) when the topic is partitioned.
   * The client sets it; without it messages have no `topic`.
   */
  readonly topic?: string;
}

export class ConsumerStream extends Readable {
  private outstandingPermits = 0;
  private readonly highWaterMark: number;
  private readonly ackOnRead: boolean;
  private readonly closeGraceMs: number;
  /** Messages read out of the buffer and not yet acknowledged or nacked. */
  private readonly handedOut = new Set<string>();
  private onAllSettled: (() => void) | undefined;
  /** Ids acknowledged lately, for replay after a reconnect. */
  private readonly recentAcks = new RecentIds(MAX_REMEMBERED_ACKS);
  private permitsStopped = false;
  private readonly topic: string | undefined;

  /** `session` must point at a consumer URL with `pullMode=true`. */
  constructor(
    private readonly session: StreamSession,
    options: ConsumerStreamOptions = {},
  ) {
    const highWaterMark = options.highWaterMark ?? 100;
    if (!Number.isInteger(highWaterMark) || highWaterMark < 1) {
      throw new InvalidArgumentError(
        `expected \`highWaterMark\` to be an integer >= 1, got ${highWaterMark}`,
      );
    }
    const ackMode = options.ackMode ?? 'after-write';
    if (!ACK_MODES.includes(ackMode)) {
      throw new InvalidArgumentError(
        `expected \`ackMode\` to be one of ${ACK_MODES.join(', ')}, got ${JSON.stringify(ackMode)}`,
      );
    }
    super({ objectMode: true, highWaterMark });
    this.highWaterMark = highWaterMark;
    this.ackOnRead = ackMode === 'on-read';
    this.closeGraceMs = checkDuration('closeGraceMs', options.closeGraceMs ?? 2000, { zero: true });
    this.topic = options.topic;
    bindSession(
      this,
      session,
      (text) => this.onFrame(text),
      (state) => {
        // The server forgot the permits of a lost connection; acks sent into it may be lost too.
        if (state === 'reconnecting') this.outstandingPermits = 0;
        if (state === 'connected' && session.connectionId > 1) this.replayAcks();
        if (state === 'connected') this.grantPermits();
      },
    );
  }

  /** Messages asked of the server (permits) and not yet received. */
  get permitsOutstanding(): number {
    return this.outstandingPermits;
  }

  /**
   * Asks the server for nothing more (for a drain): messages already asked for still arrive and are
   * read as usual; what is not acknowledged when the stream closes is redelivered.
   */
  stopPermits(): void {
    this.permitsStopped = true;
  }

  /**
   * A message read out of this stream that will not be handed further (it sat in a merging stream's
   * buffer when that closed): the close grace no longer waits for it, and it is redelivered.
   */
  release(messageId: string): void {
    if (!this.handedOut.delete(messageId)) return;
    if (this.handedOut.size === 0) this.onAllSettled?.();
  }

  override _construct(callback: (error?: Error | null) => void): void {
    connectSession(this.session, callback);
  }

  override _read(): void {
    this.grantPermits();
  }

  /**
   * Node stops calling `_read` after one that pushed nothing, until the next push; but no message
   * comes without a permit. Every consumption goes through `read()`, so the room it frees is granted
   * here.
   */
  override read(size?: number): unknown {
    const item: unknown = super.read(size);
    this.grantPermits();
    return item;
  }

  /**
   * Every message leaves the stream as a `'data'` event: from `read()`, in flowing mode, and when
   * pushed straight to a flowing consumer without being buffered. That is where it is handed out.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') {
      const item = args[0];
      if (isConsumerMessage(item)) {
        if (this.ackOnRead) item.ack();
        // Bounded: a caller that never acknowledges must not grow this without end; past the cap
        // the close grace is best effort.
        else if (this.handedOut.size < MAX_TRACKED_HANDED_OUT) this.handedOut.add(item.messageId);
      }
    }
    return super.emit(event, ...args);
  }

  /**
   * Asks for the free room once it is worth a frame (half the high-water mark). With no permit
   * outstanding it asks for any room at all: no message would come to call `_read` again otherwise.
   */
  private grantPermits(): void {
    if (this.permitsStopped) return;
    const room = this.highWaterMark - this.readableLength - this.outstandingPermits;
    const threshold = this.outstandingPermits === 0 ? 1 : Math.max(1, Math.floor(this.highWaterMark / 2));
    if (room < threshold) return;
    if (this.session.send(encodePermitFrame(room))) {
      this.outstandingPermits += room;
    }
  }

  private onFrame(text: string): void {
    const frame = deliveredMessageOf(this, text, 'consumer frame');
    if (frame === undefined) return;
    this.outstandingPermits = Math.max(0, this.outstandingPermits - 1);
    if (this.recentAcks.has(frame.messageId)) {
      // Redelivered because its ack was lost with a connection: written already, so ack it again.
      this.session.send(encodeAckFrame(frame.messageId));
      this.grantPermits();
      return;
    }
    let topic: string | undefined;
    let id: MessageIdData | undefined;
    if (this.topic !== undefined) {
      try {
        id = decodeMessageId(frame.messageId);
        topic = messageTopicOf(this.topic, id.partition);
      } catch (error) {
        this.destroy(
          new ProtocolError(`consumer frame: messageId is not a message id: ${(error as Error).message}`, {
            frameKind: 'consumer frame',
            field: 'messageId',
            cause: error,
          }),
        );
        return;
      }
    }
    this.push(toConsumerMessage(frame, this.settle, topic, id));
  }

  /** Sends a message's ack or nack: one function for every message, not a closure each. */
  private readonly settle = (kind: 'ack' | 'nack', messageId: string): void => {
    // A settle that finds no connection is lost with it; the broker redelivers the message (an ack
    // is replayed after the reconnect, see recentAcks).
    if (kind === 'ack') this.recentAcks.add(messageId);
    this.session.send(kind === 'ack' ? encodeAckFrame(messageId) : encodeNegativeAckFrame(messageId));
    this.handedOut.delete(messageId);
    if (this.handedOut.size === 0) this.onAllSettled?.();
  };

  /** Sends the recent acks again on a new connection: those sent into the lost one may never have arrived. */
  private replayAcks(): void {
    for (const messageId of this.recentAcks.values()) this.session.send(encodeAckFrame(messageId));
  }

  override destroy(error?: Error): this {
    stopConnecting(this.session);
    return super.destroy(error);
  }

  /**
   * With a failure, closes at once (downstream failed; what it did not finish comes again). When
   * stopped (no error, or the `AbortError` Node's pipeline destroys a source with when a later stage
   * ends early), first waits up to `closeGraceMs` for messages already handed downstream to be
   * settled, so the acks of the last writes do not go to a closed session.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const stopped = error === null || error.name === 'AbortError';
    if (!stopped || this.handedOut.size === 0 || this.closeGraceMs === 0) {
      closeSession(this.session, error, callback);
      return;
    }
    const timer = setTimeout(() => this.onAllSettled?.(), this.closeGraceMs);
    this.onAllSettled = () => {
      this.onAllSettled = undefined;
      clearTimeout(timer);
      closeSession(this.session, error, callback);
    };
  }
}

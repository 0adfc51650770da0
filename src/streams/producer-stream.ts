/**
 * The producer endpoint as a Node `Writable` (objectMode); up to `maxInFlight` sends are pipelined.
 *
 * What tells that a message is stored: NOT the write's callback. It fires as soon as the message is
 * sent and there is room in the in-flight window (held only while `maxInFlight` messages await
 * their acks), so that the writer keeps the pipe full. A message is stored once the broker
 * acknowledged it: the `'ack'` event (or `onAck`), a tracked chunk's `written()` (a consumer
 * message is acknowledged then, a `Tracked` value's callback runs with the receipt), and `'finish'`
 * (so `pipeline()`'s resolution), which `_final` holds until every message was acknowledged.
 * Progress recorded in a write callback would run ahead of what is stored.
 *
 * A `send-error` ack destroys the stream with a `SendError`. When the session reconnects,
 * unacknowledged messages are sent again in order (at-least-once).
 *
 * Effectively-once: the WebSocket producer numbers its messages from `initialSequenceId` + 1 and
 * ignores any sequence id in the frame. The stream keeps each pending message's number, and a
 * reconnect reopens (same `producerName`) with `initialSequenceId` = the number before the first
 * unacknowledged message, so resent messages keep their numbers and a topic with deduplication drops
 * the ones it already stored. `resumeSequenceId` gives the URL builder that number.
 *
 * Memory bound: (highWaterMark + maxInFlight) × the largest message.
 */
import { Writable } from 'node:stream';
import { checkDuration } from '../client/duration.js';
import type { StreamSession } from '../client/stream-session.js';
import { ClosedError, InvalidArgumentError, SendError, TimeoutError } from '../errors.js';
import { decodeProducerAckFrame, type ProducerAck } from '../protocol/index.js';
import { encodeProducerMessage, type ProducerMessage } from './producer-message.js';
import { bindSession, closeSession, connectSession, stopConnecting } from './session-glue.js';
import { settlementOf, type Tracked, type WriteReceipt } from './tracked.js';

export interface ProducerStreamOptions {
  /** Messages buffered in the stream before `write()` returns false. @default 16 */
  readonly highWaterMark?: number;
  /** Messages sent and not yet acknowledged, at most. 1 = strictly one at a time. @default 1000 */
  readonly maxInFlight?: number;
  /** The server's text frame limit (`webSocketMaxTextFrameSize`); bigger messages are refused. @default 1048576 */
  readonly maxFrameBytes?: number;
  /**
   * The sequence id before the first message this stream sends (the session's `initialSequenceId`).
   * Sequence numbers are only tracked when this is set (effectively-once).
   */
  readonly initialSequenceId?: number;
  /**
   * How long `end()` waits for the broker to acknowledge what is still in flight, in ms (across
   * reconnects); then the stream fails with a `TimeoutError` and `'finish'` is not emitted, so the
   * caller knows those messages may not be stored. `Infinity` waits for ever. @default 60000
   */
  readonly finishTimeoutMs?: number;
}

/** An acknowledged message: its id as the broker assigned it, and the context it was sent with. */
export interface ProducerAckEvent {
  /** The broker's id for the message; Pulsar's id for ledger -1, entry -1 when deduplication dropped it. */
  readonly messageId: string;
  readonly context: string;
  /** The message's sequence id, when the stream tracks them (effectively-once); per partition on a partitioned topic. */
  readonly sequenceId?: number;
  /** Effectively-once on a partitioned topic: the partition the message went to (`context` is per partition then). */
  readonly partition?: number;
}

interface PendingMessage {
  /** The message as written; encoded again for a resend, so big frames are not kept alive meanwhile. */
  readonly message: ProducerMessage;
  readonly written: (receipt: WriteReceipt) => void;
  readonly sequenceId: number | undefined;
}

export class ProducerStream extends Writable {
  private readonly pending = new Map<string, PendingMessage>();
  /** The sequence id the next new message gets; undefined when sequence ids are not tracked. */
  private nextSequenceId: number | undefined;
  private lastAcked: number | undefined;
  private readonly maxInFlight: number;
  private readonly maxFrameBytes: number;
  private nextContext = 0;
  private readonly finishTimeoutMs: number;
  private heldCallback: ((error?: Error | null) => void) | undefined;
  private finalCallback: ((error?: Error | null) => void) | undefined;
  private finishTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly session: StreamSession,
    options: ProducerStreamOptions = {},
  ) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? 16 });
    this.maxInFlight = options.maxInFlight ?? 1000;
    this.maxFrameBytes = options.maxFrameBytes ?? 1024 * 1024;
    this.finishTimeoutMs = checkDuration('finishTimeoutMs', options.finishTimeoutMs ?? 60_000, {
      infinite: true,
    });
    if (options.initialSequenceId !== undefined) {
      this.lastAcked = options.initialSequenceId;
      this.nextSequenceId = options.initialSequenceId + 1;
    }
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) {
      throw new InvalidArgumentError(
        `expected \`maxInFlight\` to be an integer >= 1, got ${this.maxInFlight}`,
      );
    }
    bindSession(
      this,
      session,
      (text) => this.onAck(text),
      (state) => {
        // A new connection after the first: what is unacknowledged goes again, in order.
        if (state === 'connected' && session.connectionId > 1) this.resendPending();
      },
    );
  }

  override _construct(callback: (error?: Error | null) => void): void {
    connectSession(this.session, callback);
  }

  /**
   * The `initialSequenceId` to open the session with so that the first unacknowledged message keeps
   * its sequence id; undefined when sequence ids are not tracked.
   */
  get resumeSequenceId(): number | undefined {
    if (this.nextSequenceId === undefined) return undefined;
    for (const message of this.pending.values()) {
      if (message.sequenceId !== undefined) return message.sequenceId - 1;
    }
    return this.nextSequenceId - 1;
  }

  /** The sequence id of the last message the broker acknowledged (effectively-once only). */
  get lastAckedSequenceId(): number | undefined {
    return this.lastAcked;
  }

  override _write(
    chunk: ProducerMessage | Tracked<ProducerMessage>,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    const context = String(this.nextContext++);
    const { value, written } = settlementOf(chunk);
    let frame: string;
    try {
      frame = encodeProducerMessage(value, context);
    } catch (error) {
      callback(error as Error);
      return;
    }
    // A UTF-16 code unit is at most 3 UTF-8 bytes: most frames are clearly under the limit unscanned.
    if (frame.length * 3 > this.maxFrameBytes && Buffer.byteLength(frame) > this.maxFrameBytes) {
      callback(
        new InvalidArgumentError(
          `message ${context} is ${Buffer.byteLength(frame)} bytes as a frame (base64 payload), over the ${this.maxFrameBytes}-byte limit`,
        ),
      );
      return;
    }
    const sequenceId = this.nextSequenceId;
    if (this.nextSequenceId !== undefined) this.nextSequenceId += 1;
    this.pending.set(context, { message: value, written, sequenceId });
    // Not connected right now: the frame stays pending and goes out when the session reconnects.
    this.session.send(frame);
    // Accepted into the window, not stored: the callback only paces the writer (see the module doc).
    if (this.pending.size < this.maxInFlight) callback();
    else this.heldCallback = callback;
  }

  /** Holds `'finish'` until every message sent was acknowledged (or `finishTimeoutMs` passed). */
  override _final(callback: (error?: Error | null) => void): void {
    if (this.pending.size === 0) {
      callback();
      return;
    }
    this.finalCallback = callback;
    if (this.finishTimeoutMs === Infinity) return;
    this.finishTimer = setTimeout(() => {
      this.finalCallback = undefined;
      callback(
        new TimeoutError(
          `the broker did not acknowledge ${this.pending.size} message(s) within ${this.finishTimeoutMs} ms of end() (session ${this.session.state}); they may not be stored`,
        ),
      );
    }, this.finishTimeoutMs);
  }

  override destroy(error?: Error): this {
    stopConnecting(this.session);
    return super.destroy(error);
  }

  /**
   * Fails what waits on the stream: a write held for a free slot and a pending `end()` get the error
   * (or a `ClosedError`), so no caller is left waiting. Unacknowledged messages stay unacknowledged:
   * their tracked sources are not acked, and so are redelivered.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.finishTimer);
    const failure =
      error ??
      new ClosedError(`the producer was destroyed with ${this.pending.size} message(s) unacknowledged`);
    const held = this.heldCallback;
    const final = this.finalCallback;
    this.heldCallback = undefined;
    this.finalCallback = undefined;
    held?.(failure);
    final?.(failure);
    closeSession(this.session, error, callback);
  }

  private onAck(text: string): void {
    let ack: ProducerAck;
    try {
      ack = decodeProducerAckFrame(text);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    const context = ack.context;
    if (ack.result !== 'ok') {
      this.destroy(new SendError(ack.result, ack.errorMsg, context));
      return;
    }
    const message = context === undefined ? undefined : this.pending.get(context);
    if (context === undefined || message === undefined) return;
    this.pending.delete(context);
    if (message.sequenceId !== undefined) this.lastAcked = Math.max(this.lastAcked ?? -1, message.sequenceId);
    message.written({
      messageId: ack.messageId ?? '',
      ...(message.sequenceId === undefined ? {} : { sequenceId: message.sequenceId }),
    });
    this.emit('ack', {
      messageId: ack.messageId ?? '',
      context,
      ...(message.sequenceId === undefined ? {} : { sequenceId: message.sequenceId }),
    } satisfies ProducerAckEvent);
    if (this.heldCallback !== undefined && this.pending.size < this.maxInFlight) {
      const release = this.heldCallback;
      this.heldCallback = undefined;
      release();
    }
    if (this.finalCallback !== undefined && this.pending.size === 0) {
      const finish = this.finalCallback;
      this.finalCallback = undefined;
      clearTimeout(this.finishTimer);
      finish();
    }
  }

  private resendPending(): void {
    for (const [context, { message }] of this.pending) {
      this.session.send(encodeProducerMessage(message, context));
    }
  }
}

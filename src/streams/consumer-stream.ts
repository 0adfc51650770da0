/**
 * The consumer endpoint as a Node `Readable` (objectMode) in pull mode: the server may send only as
 * many messages as the stream has asked for with `permit` frames, and the stream asks for exactly
 * the room its buffer has, so `buffered + outstanding permits <= highWaterMark` always holds and a
 * slow reader really holds the broker back. While permits are outstanding, new ones go out in
 * batches of at least half the high-water mark. After a reconnect the server has forgotten the
 * permits: they are granted again.
 *
 * Messages are acknowledged by the caller (`message.ack()`); closing or destroying the stream
 * acknowledges nothing, so the broker redelivers what was not acknowledged.
 */
import { Readable } from 'node:stream';
import type { WsSession } from '../client/session.js';
import { InvalidArgumentError } from '../errors.js';
import type { DeliveredMessage } from '../protocol/index.js';
import { toConsumerMessage } from './consumer-message.js';
import { closeSession, connectSession, parseServerFrame } from './session-glue.js';

export interface ConsumerStreamOptions {
  /** Messages buffered plus messages asked for, at most. @default 100 */
  readonly highWaterMark?: number;
}

export class ConsumerStream extends Readable {
  private outstandingPermits = 0;
  private readonly highWaterMark: number;

  /** `session` must point at a consumer URL with `pullMode=true`. */
  constructor(
    private readonly session: WsSession,
    options: ConsumerStreamOptions = {},
  ) {
    const highWaterMark = options.highWaterMark ?? 100;
    if (!Number.isInteger(highWaterMark) || highWaterMark < 1) {
      throw new InvalidArgumentError(
        `expected \`highWaterMark\` to be an integer >= 1, got ${highWaterMark}`,
      );
    }
    super({ objectMode: true, highWaterMark });
    this.highWaterMark = highWaterMark;
    session.on('message', (text) => this.onFrame(text));
    session.on('state', (state, error) => {
      if (state === 'reconnecting') this.outstandingPermits = 0;
      if (state === 'connected') this.grantPermits();
      if (state === 'closed' && error !== undefined) this.destroy(error);
    });
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
   * Asks for the free room once it is worth a frame (half the high-water mark). With no permit
   * outstanding it asks for any room at all: no message would come to call `_read` again otherwise.
   */
  private grantPermits(): void {
    const room = this.highWaterMark - this.readableLength - this.outstandingPermits;
    const threshold = this.outstandingPermits === 0 ? 1 : Math.max(1, Math.floor(this.highWaterMark / 2));
    if (room < threshold) return;
    if (this.session.send(JSON.stringify({ type: 'permit', permitMessages: room }))) {
      this.outstandingPermits += room;
    }
  }

  private onFrame(text: string): void {
    let frame: DeliveredMessage;
    try {
      frame = parseServerFrame<DeliveredMessage>(text);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    // Answers to commands (isEndOfTopic) are not messages.
    if (typeof frame.messageId !== 'string') return;
    this.outstandingPermits = Math.max(0, this.outstandingPermits - 1);
    this.push(
      toConsumerMessage(frame, (kind, messageId) => {
        const command = kind === 'ack' ? { messageId } : { type: 'negativeAcknowledge', messageId };
        // A settle that finds no connection is lost with it; the broker redelivers the message.
        this.session.send(JSON.stringify(command));
      }),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    closeSession(this.session, error, callback);
  }
}

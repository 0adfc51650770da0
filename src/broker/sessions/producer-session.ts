/**
 * One producer connection (docs/protocol.md §3): decodes publish frames, stores messages and answers each with an
 * ack. Bad frames get per-message error acks and the connection stays open. Ok-acks go out in publish
 * order because the topic log completes appends in order.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  decodePublishFrame,
  encodeMessageId,
  errorAck,
  messageIdOf,
  okAck,
  WebSocketErrorCode,
  type DecodedPublish,
  type ProducerAck,
} from '../../protocol/index.js';
import type { MessageEncryption } from '../../encryption/index.js';
import { clientMessage } from '../client-message.js';
import type { PublishEncryption } from '../crypto/producer-encryption.js';
import type { StoredMessage } from '../storage/record-codec.js';
import type { AppendResult } from '../storage/message-log.js';
import { paceCollection } from './collection-pacing.js';
import { closeWithInternalError, sendWithinBound } from './socket.js';

/** A message as the producer session makes it; the target gives it its sequence id. */
export type UnnumberedMessage = Omit<StoredMessage, 'sequenceId'>;

/** Where a producer's messages go: one topic, or a partitioned topic's router. */
export interface PublishTarget {
  /** Full topic name, for messages. */
  readonly name: string;
  /**
   * Numbers the message and stores it; the result's partition is -1 for a non-partitioned topic.
   * A partitioned topic numbers each partition's messages on their own, as each partition's producer
   * inside Pulsar's partitioned producer does: deduplication is per partition.
   */
  publish(message: UnnumberedMessage): Promise<AppendResult & { partition: number }>;
}

export interface ProducerSessionOptions {
  readonly producerName: string;
  readonly maxMessageSize: number;
  /** Stop reading the socket while this many messages await storage (TCP backpressure). */
  readonly maxPendingMessages: number;
  /** Stop reading the socket while this many bytes of publish frames await storage. */
  readonly maxPendingBytes: number;
  /** Stop reading the socket while it holds this many bytes of acks the client has not read. */
  readonly maxOutboundBytes: number;
  /** Set when the producer asked for encryption (`encryptionKeys`). */
  readonly encryption?: PublishEncryption;
}

export class ProducerSession {
  private pendingMessages = 0;
  private pendingBytes = 0;
  /** Acks sent while the socket held more than `maxOutboundBytes`, not yet written out. */
  private acksAwaitingFlush = 0;
  private paused = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly target: PublishTarget,
    private readonly options: ProducerSessionOptions,
    private readonly logger: Logger,
  ) {}

  handleFrame(frame: Buffer): void {
    // Client-side encryption reads more fields of the frame's text; otherwise the decoder works on the
    // bytes, which spares large messages their copies as strings.
    const text = this.options.encryption === undefined ? undefined : frame.toString('utf8');
    const decoded = decodePublishFrame(text ?? frame);
    switch (decoded.kind) {
      case 'fatal':
        closeWithInternalError(this.ws, decoded.reason);
        return;
      case 'error':
        this.logger.debug(
          { result: decoded.ack.result, errorMsg: decoded.ack.errorMsg },
          'rejected publish frame',
        );
        this.sendAck(decoded.ack);
        return;
      case 'message': {
        const encrypted = text === undefined ? undefined : this.options.encryption?.(text, decoded.message);
        if (encrypted !== undefined && 'ack' in encrypted) {
          this.sendAck(encrypted.ack);
          return;
        }
        this.publish(
          frame.length,
          encrypted === undefined ? decoded.message : { ...decoded.message, payload: encrypted.payload },
          encrypted?.encryption,
        );
      }
    }
  }

  /** `frameBytes`: what the received frame costs while it waits for storage. */
  private publish(frameBytes: number, request: DecodedPublish, encryption?: MessageEncryption): void {
    const { context } = request;
    if (request.payload.length > this.options.maxMessageSize) {
      this.sendAck(
        errorAck(
          WebSocketErrorCode.UnknownError,
          `The producer ${this.options.producerName} can not send message to the topic ${this.target.name} within given timeout : Message size ${request.payload.length} exceeds maxMessageSize ${this.options.maxMessageSize}`,
          context,
        ),
      );
      return;
    }
    const now = Date.now();
    const deliverAt =
      request.deliverAfterMs > 0
        ? now + request.deliverAfterMs
        : request.deliverAt > 0
          ? request.deliverAt
          : undefined;
    const message: UnnumberedMessage = {
      payload: request.payload,
      properties: request.properties,
      ...(request.key === undefined ? {} : { key: request.key }),
      publishTime: now,
      ...(request.eventTime === undefined || request.eventTime === 0 ? {} : { eventTime: request.eventTime }),
      producerName: this.options.producerName,
      ...(deliverAt === undefined ? {} : { deliverAt }),
      ...(request.replicationClusters === undefined
        ? {}
        : { replicationClusters: request.replicationClusters }),
      ...(encryption === undefined ? {} : { encryption }),
    };
    this.trackPending(+1, frameBytes);
    this.target.publish(message).then(
      ({ ledgerId, entryId, partition }) => {
        this.trackPending(-1, -frameBytes);
        // A duplicate dropped by deduplication is acked with -1:-1 and no partition, as in Pulsar.
        const id = messageIdOf(ledgerId, entryId, ledgerId < 0 ? -1 : partition);
        this.sendAck(okAck(encodeMessageId(id), context));
      },
      (error: unknown) => {
        this.trackPending(-1, -frameBytes);
        this.logger.warn({ err: error }, 'publish failed');
        this.sendAck(errorAck(WebSocketErrorCode.UnknownError, clientMessage(error), context));
      },
    );
  }

  private trackPending(messages: number, bytes: number): void {
    if (bytes > 0) paceCollection(bytes);
    this.pendingMessages += messages;
    this.pendingBytes += bytes;
    this.applyBackpressure();
  }

  /**
   * Bounds what one producer costs, whether it sends faster than the disk stores or never reads its
   * acks: the socket is not read (TCP pushes back on the client) while too much waits for storage or
   * too many acks wait for the client, and is read again once half of it is stored and the acks are out.
   */
  private applyBackpressure(): void {
    const { maxPendingMessages, maxPendingBytes } = this.options;
    if (
      !this.paused &&
      (this.pendingMessages >= maxPendingMessages ||
        this.pendingBytes >= maxPendingBytes ||
        this.acksAwaitingFlush > 0)
    ) {
      this.paused = true;
      this.ws.pause();
    } else if (
      this.paused &&
      this.pendingMessages <= maxPendingMessages / 2 &&
      this.pendingBytes <= maxPendingBytes / 2 &&
      this.acksAwaitingFlush === 0
    ) {
      this.paused = false;
      this.ws.resume();
    }
  }

  private sendAck(ack: ProducerAck): void {
    // As in Pulsar, an ack for a connection that is already gone is dropped.
    const sent = sendWithinBound(this.ws, JSON.stringify(ack), this.options.maxOutboundBytes);
    if (typeof sent === 'boolean') return;
    this.acksAwaitingFlush++;
    this.applyBackpressure();
    void sent.then(() => {
      this.acksAwaitingFlush--;
      this.applyBackpressure();
    });
  }
}

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
import type { PublishEncryption } from '../crypto/producer-encryption.js';
import type { StoredMessage } from '../storage/record-codec.js';
import type { AppendResult } from '../storage/message-log.js';

/** Where a producer's messages go: one topic, or a partitioned topic's router. */
export interface PublishTarget {
  /** Full topic name, for messages. */
  readonly name: string;
  /** Stores the message; the result's partition is -1 for a non-partitioned topic. */
  publish(message: StoredMessage): Promise<AppendResult & { partition: number }>;
}
import { closeWithInternalError, sendText } from './socket.js';

export interface ProducerSessionOptions {
  readonly producerName: string;
  /** Sequence ids continue from here: the first message gets `initialSequenceId + 1`. */
  readonly initialSequenceId: number;
  readonly maxMessageSize: number;
  /** Stop reading the socket while this many messages await storage (TCP backpressure). */
  readonly maxPendingMessages: number;
  /** Set when the producer asked for encryption (`encryptionKeys`). */
  readonly encryption?: PublishEncryption;
}

export class ProducerSession {
  private lastSequenceId: number;
  private pendingMessages = 0;
  private paused = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly target: PublishTarget,
    private readonly options: ProducerSessionOptions,
    private readonly logger: Logger,
  ) {
    this.lastSequenceId = options.initialSequenceId;
  }

  handleFrame(text: string): void {
    const decoded = decodePublishFrame(text);
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
        const encrypted = this.options.encryption?.(text, decoded.message);
        if (encrypted !== undefined && 'ack' in encrypted) {
          this.sendAck(encrypted.ack);
          return;
        }
        this.publish(
          encrypted === undefined ? decoded.message : { ...decoded.message, payload: encrypted.payload },
          encrypted?.encryption,
        );
      }
    }
  }

  private publish(request: DecodedPublish, encryption?: MessageEncryption): void {
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
    const message: StoredMessage = {
      payload: request.payload,
      properties: request.properties,
      ...(request.key === undefined ? {} : { key: request.key }),
      publishTime: now,
      ...(request.eventTime === undefined || request.eventTime === 0 ? {} : { eventTime: request.eventTime }),
      producerName: this.options.producerName,
      sequenceId: ++this.lastSequenceId,
      ...(deliverAt === undefined ? {} : { deliverAt }),
      ...(request.replicationClusters === undefined
        ? {}
        : { replicationClusters: request.replicationClusters }),
      ...(encryption === undefined ? {} : { encryption }),
    };
    this.trackPending(+1);
    this.target.publish(message).then(
      ({ ledgerId, entryId, partition }) => {
        this.trackPending(-1);
        // A duplicate dropped by deduplication is acked with -1:-1 and no partition, as in Pulsar.
        const id = messageIdOf(ledgerId, entryId, ledgerId < 0 ? -1 : partition);
        this.sendAck(okAck(encodeMessageId(id), context));
      },
      (error: unknown) => {
        this.trackPending(-1);
        this.logger.warn({ err: error }, 'publish failed');
        this.sendAck(errorAck(WebSocketErrorCode.UnknownError, (error as Error).message, context));
      },
    );
  }

  /** Bounds memory for a client that pipelines faster than the disk: pause the socket, resume at half. */
  private trackPending(delta: number): void {
    this.pendingMessages += delta;
    if (!this.paused && this.pendingMessages >= this.options.maxPendingMessages) {
      this.paused = true;
      this.ws.pause();
    } else if (this.paused && this.pendingMessages <= this.options.maxPendingMessages / 2) {
      this.paused = false;
      this.ws.resume();
    }
  }

  private sendAck(ack: ProducerAck): void {
    // As in Pulsar, an ack for a connection that is already gone is dropped.
    sendText(this.ws, JSON.stringify(ack));
  }
}

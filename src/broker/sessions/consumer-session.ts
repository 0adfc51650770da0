/**
 * One consumer connection on a durable subscription (docs/protocol.md §4): delivers under §4.4 flow control,
 * handles ack, negativeAcknowledge, permit, unsubscribe and isEndOfTopic commands, and does what
 * Pulsar's internal Java consumer does for the WebSocket client: ack-timeout redelivery and the
 * dead-letter topic after `maxRedeliverCount` redeliveries.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  decodeConsumerCommand,
  pushWindowSize,
  type ConsumerParams,
  type EndOfTopicResponse,
} from '../../protocol/index.js';
import type { MessageIdData } from '../../protocol/index.js';
import { clientMessage } from '../client-message.js';
import type { DeliveryCrypto } from '../crypto/delivery-crypto.js';
import type { LogEntry } from '../storage/message-log.js';
import type { SubscriptionConsumer } from '../topics/subscription.js';
import type { DeliveryLoop } from './delivery-loop.js';
import type { ConsumerSource, SourcedDelivery } from './sources.js';
import { deliveredFrame, socketDeliveryLoop } from './delivery.js';
import { closeWithInternalError, dropConnection, sendText, textOf } from './socket.js';

/** Moves a message that was redelivered too often to the dead-letter topic. */
export type DeadLetterSink = (entry: LogEntry) => Promise<void>;

/** Pulsar's client checks ack timeouts once per tick of at most this long. */
const ACK_TIMEOUT_TICK_MILLIS = 1000;

/**
 * Deliveries tracked for the ack timeout at most, per connection: a pull-mode client may grant any
 * number of permits and never acknowledge. Beyond it deliveries are not tracked until tracked ones are
 * acknowledged; nothing is lost (an Exclusive or Failover timeout rewinds to the first unacknowledged
 * message anyway, and a reconnect redelivers everything unacknowledged).
 */
const MAX_ACK_TIMEOUT_TRACKED = 50_000;

function idKey(id: MessageIdData): string {
  return `${id.ledgerId}:${id.entryId}:${id.partition}`;
}

export class ConsumerSession implements SubscriptionConsumer {
  private readonly loop: DeliveryLoop<string>;
  /** Ack timeout: when each unacknowledged delivery went out. */
  private readonly unacked = new Map<string, { id: MessageIdData; deliveredAt: number }>();
  private readonly source: ConsumerSource;
  private readonly ackTimeoutTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    readonly name: string,
    private readonly ws: WebSocket,
    source: (consumer: SubscriptionConsumer) => ConsumerSource,
    private readonly params: ConsumerParams,
    private readonly deadLetter: DeadLetterSink | undefined,
    private readonly logger: Logger,
    /** Bytes the socket may hold unread before delivery waits (`maxOutboundBytesPerConnection`). */
    maxOutboundBytes: number,
    /** Decides what an encrypted message becomes (decrypted, ciphertext, skipped, discarded). */
    private readonly crypto?: DeliveryCrypto,
  ) {
    this.source = source(this);
    this.loop = socketDeliveryLoop(ws, logger, {
      pullMode: params.pullMode,
      window: pushWindowSize(params.receiverQueueSize),
      maxOutboundBytes,
      next: async () => {
        for (;;) {
          const delivery = await this.nextDeliverable();
          if (delivery === null) return null;
          this.trackForAckTimeout(delivery);
          const frame = await this.frameOf(delivery);
          if (frame !== undefined) return frame;
        }
      },
    });
    if (params.ackTimeoutMillis > 0) {
      this.ackTimeoutTimer = setInterval(
        () => this.redeliverTimedOut(),
        Math.min(ACK_TIMEOUT_TICK_MILLIS, params.ackTimeoutMillis),
      );
    }
  }

  get priorityLevel(): number {
    return this.params.priorityLevel ?? 0;
  }

  /**
   * The frame for a delivery; undefined when its crypto failure action withholds it: `FAIL` leaves it
   * unacknowledged (redelivered only on ack timeout or reconnect), `DISCARD` acknowledges it.
   */
  private async frameOf(delivery: SourcedDelivery): Promise<string | undefined> {
    const { entry, redeliveryCount, partition } = delivery;
    if (this.crypto === undefined) return deliveredFrame(entry, redeliveryCount, partition);
    const outcome = await this.crypto.outcome(entry.message);
    if (outcome.kind === 'deliver') {
      return deliveredFrame(entry, redeliveryCount, partition, outcome.message, outcome.context);
    }
    this.logger.debug({ action: outcome.kind }, 'withheld an encrypted message it cannot decrypt');
    if (outcome.kind === 'discard') this.source.acknowledge(this.source.idOf(delivery));
    return undefined;
  }

  /** The next delivery, after moving any that exceeded `maxRedeliverCount` to the dead-letter topic. */
  private async nextDeliverable(): Promise<SourcedDelivery | null> {
    for (;;) {
      const delivery = await this.source.next();
      const max = this.params.maxRedeliverCount;
      if (
        delivery === null ||
        this.deadLetter === undefined ||
        max === undefined ||
        delivery.redeliveryCount <= max
      ) {
        return delivery;
      }
      await this.deadLetter(delivery.entry);
      this.source.acknowledge(this.source.idOf(delivery));
    }
  }

  private trackForAckTimeout(delivery: SourcedDelivery): void {
    if (this.ackTimeoutTimer === undefined || this.unacked.size >= MAX_ACK_TIMEOUT_TRACKED) return;
    const id = this.source.idOf(delivery);
    this.unacked.set(idKey(id), { id, deliveredAt: Date.now() });
  }

  private redeliverTimedOut(): void {
    const expired: MessageIdData[] = [];
    const deadline = Date.now() - this.params.ackTimeoutMillis;
    for (const [key, { id, deliveredAt }] of this.unacked) {
      if (deliveredAt > deadline) continue;
      expired.push(id);
      this.unacked.delete(key);
    }
    if (expired.length > 0) this.source.redeliverLater(this, expired, 0);
  }

  start(): void {
    this.loop.start();
  }

  handleFrame(frame: Buffer): void {
    const command = decodeConsumerCommand(textOf(frame));
    switch (command.type) {
      case 'failure':
        this.logger.debug({ reason: command.reason, close: command.close }, 'bad consumer command');
        if (command.close === 'drop') dropConnection(this.ws);
        else closeWithInternalError(this.ws, command.reason);
        return;
      case 'ack':
        this.unacked.delete(idKey(command.messageId));
        this.source.acknowledge(command.messageId);
        this.loop.onAck();
        return;
      case 'negativeAcknowledge':
        this.unacked.delete(idKey(command.messageId));
        this.source.redeliverLater(this, [command.messageId], this.params.negativeAckRedeliveryDelay);
        this.loop.onAck();
        return;
      case 'permit':
        this.loop.onPermit(command.permitMessages);
        return;
      case 'unsubscribe':
        this.loop.stop();
        this.source.unsubscribe().catch((error: unknown) => {
          // Pulsar closes with its code 3 when unsubscribe fails: a dropped connection.
          this.logger.error({ err: error }, 'unsubscribe failed');
          dropConnection(this.ws);
        });
        return;
      case 'isEndOfTopic':
        this.answerEndOfTopic().catch((error: unknown) => {
          this.logger.error({ err: error }, 'isEndOfTopic failed');
          closeWithInternalError(this.ws, clientMessage(error));
        });
    }
  }

  private async answerEndOfTopic(): Promise<void> {
    // Answer after the acks that came before this command are on disk, so a client that sees the
    // answer knows its acks survive a broker crash.
    await this.source.flushed();
    const response: EndOfTopicResponse = { endOfTopic: this.source.atEndOfTopic };
    sendText(this.ws, JSON.stringify(response));
  }

  close(): void {
    clearInterval(this.ackTimeoutTimer);
    this.loop.stop();
    this.source.detach(this);
  }
}

/**
 * One consumer connection on a durable subscription (spec §4): delivers under §4.4 flow control,
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
import type { Position } from '../storage/cursor-store.js';
import type { LogEntry } from '../storage/message-log.js';
import type { Delivery, Subscription, SubscriptionConsumer } from '../topics/subscription.js';
import type { Topic } from '../topics/topic.js';
import type { DeliveryLoop } from './delivery-loop.js';
import { deliveredFrame, socketDeliveryLoop } from './delivery.js';
import { closeWithInternalError, dropConnection, sendText } from './socket.js';

/** Moves a message that was redelivered too often to the dead-letter topic. */
export type DeadLetterSink = (entry: LogEntry) => Promise<void>;

/** Pulsar's client checks ack timeouts once per tick of at most this long. */
const ACK_TIMEOUT_TICK_MILLIS = 1000;

function positionKey(position: Position): string {
  return `${position.ledgerId}:${position.entryId}`;
}

export class ConsumerSession implements SubscriptionConsumer {
  private readonly loop: DeliveryLoop<string>;
  /** Ack timeout: when each unacknowledged delivery went out. */
  private readonly unacked = new Map<string, { position: Position; deliveredAt: number }>();
  private readonly ackTimeoutTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    readonly name: string,
    private readonly ws: WebSocket,
    private readonly topic: Topic,
    private readonly subscription: Subscription,
    private readonly params: ConsumerParams,
    private readonly deadLetter: DeadLetterSink | undefined,
    private readonly logger: Logger,
  ) {
    this.loop = socketDeliveryLoop(ws, logger, {
      pullMode: params.pullMode,
      window: pushWindowSize(params.receiverQueueSize),
      next: async () => {
        const delivery = await this.nextDeliverable();
        if (delivery === null) return null;
        this.trackForAckTimeout(delivery.entry);
        return deliveredFrame(delivery.entry, delivery.redeliveryCount);
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

  /** The next delivery, after moving any that exceeded `maxRedeliverCount` to the dead-letter topic. */
  private async nextDeliverable(): Promise<Delivery | null> {
    for (;;) {
      const delivery = await this.subscription.next(this);
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
      this.subscription.acknowledge(delivery.entry);
    }
  }

  private trackForAckTimeout(entry: LogEntry): void {
    if (this.ackTimeoutTimer === undefined) return;
    const position = { ledgerId: entry.ledgerId, entryId: entry.entryId };
    this.unacked.set(positionKey(position), { position, deliveredAt: Date.now() });
  }

  private redeliverTimedOut(): void {
    const expired: Position[] = [];
    const deadline = Date.now() - this.params.ackTimeoutMillis;
    for (const [key, { position, deliveredAt }] of this.unacked) {
      if (deliveredAt > deadline) continue;
      expired.push(position);
      this.unacked.delete(key);
    }
    if (expired.length > 0) this.subscription.redeliverLater(this, expired, 0);
  }

  start(): void {
    this.loop.start();
  }

  handleFrame(text: string): void {
    const command = decodeConsumerCommand(text);
    switch (command.type) {
      case 'failure':
        this.logger.debug({ reason: command.reason, close: command.close }, 'bad consumer command');
        if (command.close === 'drop') dropConnection(this.ws);
        else closeWithInternalError(this.ws, command.reason);
        return;
      case 'ack':
        this.unacked.delete(positionKey(command.messageId));
        this.subscription.acknowledge(command.messageId);
        this.loop.onAck();
        return;
      case 'negativeAcknowledge':
        this.unacked.delete(positionKey(command.messageId));
        this.subscription.redeliverLater(this, [command.messageId], this.params.negativeAckRedeliveryDelay);
        this.loop.onAck();
        return;
      case 'permit':
        this.loop.onPermit(command.permitMessages);
        return;
      case 'unsubscribe':
        this.loop.stop();
        this.topic.unsubscribe(this.subscription).catch((error: unknown) => {
          // Pulsar closes with its code 3 when unsubscribe fails: a dropped connection.
          this.logger.error({ err: error }, 'unsubscribe failed');
          dropConnection(this.ws);
        });
        return;
      case 'isEndOfTopic':
        this.answerEndOfTopic().catch((error: unknown) => {
          this.logger.error({ err: error }, 'isEndOfTopic failed');
          closeWithInternalError(this.ws, (error as Error).message);
        });
    }
  }

  private async answerEndOfTopic(): Promise<void> {
    // Answer after the acks that came before this command are on disk, so a client that sees the
    // answer knows its acks survive a broker crash.
    await this.subscription.flushed();
    const response: EndOfTopicResponse = {
      endOfTopic: this.topic.terminated && this.subscription.dispatchedAll,
    };
    sendText(this.ws, JSON.stringify(response));
  }

  close(): void {
    clearInterval(this.ackTimeoutTimer);
    this.loop.stop();
    this.subscription.detach(this);
  }
}

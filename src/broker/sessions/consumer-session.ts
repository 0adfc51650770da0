/**
 * One consumer connection on a durable subscription (spec §4): delivers under §4.4 flow control and
 * handles ack, negativeAcknowledge, permit, unsubscribe and isEndOfTopic commands.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  decodeConsumerCommand,
  pushWindowSize,
  type ConsumerParams,
  type EndOfTopicResponse,
} from '../../protocol/index.js';
import type { Subscription, SubscriptionConsumer } from '../topics/subscription.js';
import type { Topic } from '../topics/topic.js';
import { deliveredFrame, socketDeliveryLoop } from './delivery.js';
import type { DeliveryLoop } from './delivery-loop.js';
import { closeWithInternalError, dropConnection, sendText } from './socket.js';

let nextConsumerId = 1;

export class ConsumerSession implements SubscriptionConsumer {
  readonly id = nextConsumerId++;
  private readonly loop: DeliveryLoop<string>;

  constructor(
    private readonly ws: WebSocket,
    private readonly topic: Topic,
    private readonly subscription: Subscription,
    private readonly params: ConsumerParams,
    private readonly logger: Logger,
  ) {
    this.loop = socketDeliveryLoop(ws, logger, {
      pullMode: params.pullMode,
      window: pushWindowSize(params.receiverQueueSize),
      next: async () => {
        const delivery = await subscription.next(this);
        return delivery === null ? null : deliveredFrame(delivery.entry, delivery.redeliveryCount);
      },
    });
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
        this.subscription.acknowledge(command.messageId);
        this.loop.onAck();
        return;
      case 'negativeAcknowledge':
        this.subscription.negativeAcknowledge(this, this.params.negativeAckRedeliveryDelay);
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
    this.loop.stop();
    this.subscription.detach(this);
  }
}

/** A message as consumer and reader streams emit it. */
import type { DeliveredMessage, EncryptionContext } from '../protocol/index.js';

export interface ConsumerMessage {
  readonly payload: Buffer;
  readonly messageId: string;
  /**
   * The full name of the topic the message came from; for a partitioned topic, its partition's
   * (`persistent://public/default/t-partition-2`; `baseTopicOf` gives `…/t`). Set by consumer streams.
   */
  readonly topic?: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly key?: string;
  readonly publishTime: Date;
  readonly eventTime?: Date;
  readonly redeliveryCount: number;
  /**
   * Present when the message was published encrypted (even if the server decrypted it): what a holder
   * of a private key needs to decrypt it (see `decryptMessages`). Consumers only; readers never get it.
   */
  readonly encryptionContext?: EncryptionContext;
  /** Acknowledges the message (idempotent; a no-op after `nack`). */
  ack(): void;
  /** Asks for redelivery after the subscription's `negativeAckRedeliveryDelay` (idempotent). */
  nack(): void;
}

const consumerMessages = new WeakSet<object>();

/** True for messages that consumer and reader streams emitted (sinks ack those after writing them). */
export function isConsumerMessage(value: unknown): value is ConsumerMessage {
  return typeof value === 'object' && value !== null && consumerMessages.has(value);
}

/** Builds the message object; `settle` sends the ack or nack frame, once. */
export function toConsumerMessage(
  frame: DeliveredMessage & { readonly encryptionContext?: EncryptionContext },
  settle: (kind: 'ack' | 'nack', messageId: string) => void,
  topic?: string,
): ConsumerMessage {
  let settled = false;
  // Only the id: capturing `frame` would keep its base64 payload alive until the message is settled.
  const { messageId } = frame;
  const once = (kind: 'ack' | 'nack'): void => {
    if (settled) return;
    settled = true;
    settle(kind, messageId);
  };
  const message: ConsumerMessage = {
    payload: Buffer.from(frame.payload, 'base64'),
    messageId: frame.messageId,
    ...(topic === undefined ? {} : { topic }),
    properties: frame.properties,
    ...(frame.key === undefined ? {} : { key: frame.key }),
    publishTime: new Date(frame.publishTime),
    ...(frame.eventTime === undefined ? {} : { eventTime: new Date(frame.eventTime) }),
    redeliveryCount: frame.redeliveryCount,
    ...(frame.encryptionContext === undefined ? {} : { encryptionContext: frame.encryptionContext }),
    ack: () => once('ack'),
    nack: () => once('nack'),
  };
  consumerMessages.add(message);
  return message;
}

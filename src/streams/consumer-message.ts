/** A message as consumer and reader streams emit it. */
import {
  decodeMessageId,
  type DeliveredMessage,
  type EncryptionContext,
  type MessageIdData,
} from '../protocol/index.js';

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

/**
 * The messages consumer and reader streams emitted, each with its id decoded once it was needed:
 * the stream (for the partition), a `--count` stage and the sink (exactly-once positions) each need
 * it, and decoding it again at every step was a visible share of a consumer's CPU. Weak: the entry
 * goes with the message.
 */
const consumerMessages = new WeakMap<object, MessageIdData | null>();

/** True for messages that consumer and reader streams emitted (sinks ack those after writing them). */
export function isConsumerMessage(value: unknown): value is ConsumerMessage {
  return typeof value === 'object' && value !== null && consumerMessages.has(value);
}

/**
 * `message.messageId` decoded, decoded once per message that a stream emitted.
 * @throws MessageIdFormatError for an id that is not a message id
 */
export function messageIdDataOf(message: ConsumerMessage): MessageIdData {
  const known = consumerMessages.get(message);
  if (known !== undefined && known !== null) return known;
  const decoded = decodeMessageId(message.messageId);
  if (known === null) consumerMessages.set(message, decoded);
  return decoded;
}

/**
 * Builds the message object; `settle` sends the ack or nack frame, once. `id` is the frame's
 * `messageId` decoded, when the caller decoded it already.
 */
export function toConsumerMessage(
  frame: DeliveredMessage & { readonly encryptionContext?: EncryptionContext },
  settle: (kind: 'ack' | 'nack', messageId: string) => void,
  topic?: string,
  id?: MessageIdData,
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
  consumerMessages.set(message, id ?? null);
  return message;
}

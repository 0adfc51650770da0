/** Delivery to a socket: the JSON frame (docs/protocol.md §4.2) for a stored entry, and the loop that sends them. */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  encodeMessageId,
  formatOffsetDateTime,
  messageIdOf,
  type DeliveredMessage,
  type EncryptionContext,
} from '../../protocol/index.js';
import { clientMessage } from '../client-message.js';
import type { LogEntry } from '../storage/message-log.js';
import { DeliveryLoop } from './delivery-loop.js';
import { closeWithInternalError, sendWithinBound } from './socket.js';

/** `message` and `encryptionContext` override the entry's stored message when it was decrypted. */
export function deliveredFrame(
  entry: LogEntry,
  redeliveryCount: number,
  partition = -1,
  message = entry.message,
  encryptionContext?: EncryptionContext,
): string {
  const frame: DeliveredMessage & { encryptionContext?: EncryptionContext } = {
    messageId: encodeMessageId(messageIdOf(entry.ledgerId, entry.entryId, partition)),
    payload: message.payload.toString('base64'),
    properties: { ...message.properties },
    publishTime: formatOffsetDateTime(message.publishTime),
    redeliveryCount,
    ...(message.eventTime === undefined ? {} : { eventTime: formatOffsetDateTime(message.eventTime) }),
    ...(encryptionContext === undefined ? {} : { encryptionContext }),
    ...(message.key === undefined ? {} : { key: message.key }),
  };
  return JSON.stringify(frame);
}

/**
 * A §4.4 delivery loop that sends frames on `ws`, waiting while the socket holds more than
 * `maxOutboundBytes` the client has not read, and closes it (1011) if reading an entry fails.
 */
export function socketDeliveryLoop(
  ws: WebSocket,
  logger: Logger,
  options: {
    pullMode: boolean;
    window: number;
    maxOutboundBytes: number;
    next: () => Promise<string | null>;
  },
): DeliveryLoop<string> {
  const { maxOutboundBytes, ...loopOptions } = options;
  return new DeliveryLoop({
    ...loopOptions,
    send: (frame) => sendWithinBound(ws, frame, maxOutboundBytes),
    onError: (error) => {
      logger.error({ err: error }, 'delivery failed; closing the connection');
      closeWithInternalError(ws, clientMessage(error));
    },
  });
}

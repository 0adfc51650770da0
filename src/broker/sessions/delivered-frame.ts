/** The JSON frame (spec §4.2) for a stored entry. */
import {
  encodeMessageId,
  formatOffsetDateTime,
  messageIdOf,
  type DeliveredMessage,
} from '../../protocol/index.js';
import type { LogEntry } from '../storage/message-log.js';

export function deliveredFrame(entry: LogEntry, redeliveryCount: number, partition = -1): string {
  const { message } = entry;
  const frame: DeliveredMessage = {
    messageId: encodeMessageId(messageIdOf(entry.ledgerId, entry.entryId, partition)),
    payload: message.payload.toString('base64'),
    properties: { ...message.properties },
    publishTime: formatOffsetDateTime(message.publishTime),
    redeliveryCount,
    ...(message.eventTime === undefined ? {} : { eventTime: formatOffsetDateTime(message.eventTime) }),
    ...(message.key === undefined ? {} : { key: message.key }),
  };
  return JSON.stringify(frame);
}

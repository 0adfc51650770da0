/**
 * How messages become bytes in files and on stdout: `lines` (the payload and a newline) or `ndjson`
 * (one JSON envelope per line: messageId, topic (a partition's name for a partitioned topic), key,
 * properties, publishTime, eventTime, redeliveryCount, and the payload as UTF-8 text when it is valid UTF-8, else base64, said by `encoding`).
 */
import { isUtf8 } from 'node:buffer';
import { InvalidArgumentError } from '../errors.js';
import type { ConsumerMessage } from '../streams/consumer-message.js';

export type SinkFormat = 'lines' | 'ndjson';
export const SINK_FORMATS: readonly SinkFormat[] = ['lines', 'ndjson'];

const NEWLINE = Buffer.from('\n');

export function checkSinkFormat(format: string): SinkFormat {
  if (!(SINK_FORMATS as readonly string[]).includes(format)) {
    throw new InvalidArgumentError(
      `expected \`format\` to be one of ${SINK_FORMATS.join(', ')}, got ${JSON.stringify(format)}`,
    );
  }
  return format as SinkFormat;
}

/** The envelope written for a message in `ndjson` format. */
export interface NdjsonEnvelope {
  readonly messageId: string;
  /** The topic the message came from (consumers; a partition's name for a partitioned topic). */
  readonly topic?: string;
  readonly key?: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly publishTime: string;
  readonly eventTime?: string;
  readonly redeliveryCount: number;
  readonly encoding: 'utf8' | 'base64';
  readonly payload: string;
}

export function ndjsonEnvelope(message: ConsumerMessage): NdjsonEnvelope {
  const utf8 = isUtf8(message.payload);
  return {
    messageId: message.messageId,
    ...(message.topic === undefined ? {} : { topic: message.topic }),
    ...(message.key === undefined ? {} : { key: message.key }),
    properties: message.properties,
    publishTime: message.publishTime.toISOString(),
    ...(message.eventTime === undefined ? {} : { eventTime: message.eventTime.toISOString() }),
    redeliveryCount: message.redeliveryCount,
    encoding: utf8 ? 'utf8' : 'base64',
    payload: message.payload.toString(utf8 ? 'utf8' : 'base64'),
  };
}

/** One message as the bytes of one newline-terminated record. */
export function encodeRecord(message: ConsumerMessage, format: SinkFormat): Buffer {
  if (format === 'lines') return Buffer.concat([message.payload, NEWLINE]);
  return Buffer.from(`${JSON.stringify(ndjsonEnvelope(message))}\n`);
}

/**
 * Appends one message's record to `parts`, for a caller that joins many records into one buffer:
 * a `lines` record goes in as the payload and a newline, without a copy of its own.
 */
export function pushRecord(parts: Buffer[], message: ConsumerMessage, format: SinkFormat): void {
  if (format === 'lines') parts.push(message.payload, NEWLINE);
  else parts.push(encodeRecord(message, format));
}

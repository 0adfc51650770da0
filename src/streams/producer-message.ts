/** What a producer stream accepts, and how it becomes a publish frame (docs/protocol.md §3.2). */
import { InvalidArgumentError } from '../errors.js';
import { encodePublishFrame } from '../protocol/index.js';

export interface ProducerMessageObject {
  readonly payload: Buffer | Uint8Array | string;
  readonly properties?: Readonly<Record<string, string>>;
  readonly key?: string;
  /** A Date, epoch ms, or an ISO-8601 string with offset. */
  readonly eventTime?: Date | number | string;
  /** Epoch ms or a Date; delayed delivery on Shared/Key_Shared subscriptions. */
  readonly deliverAt?: Date | number;
  readonly deliverAfterMs?: number;
}

/** A Buffer or string is the payload alone. */
export type ProducerMessage = Buffer | Uint8Array | string | ProducerMessageObject;

function isObjectMessage(message: ProducerMessage): message is ProducerMessageObject {
  return typeof message === 'object' && !(message instanceof Uint8Array);
}

function toBase64(payload: Buffer | Uint8Array | string): string {
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8').toString('base64');
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64');
}

function isoTime(value: Date | number | string, field: string): string {
  const date =
    value instanceof Date ? value : typeof value === 'number' ? new Date(value) : new Date(Date.parse(value));
  if (Number.isNaN(date.getTime()))
    throw new InvalidArgumentError(`expected \`${field}\` to be a date, got ${JSON.stringify(value)}`);
  return date.toISOString();
}

/** The publish frame for one message. @throws InvalidArgumentError for a malformed message. */
export function encodeProducerMessage(message: ProducerMessage, context: string): string {
  if (!isObjectMessage(message)) return encodePublishFrame({ payload: toBase64(message), context });
  if (message === null || message.payload === undefined) {
    throw new InvalidArgumentError('expected a Buffer, a string or an object with a `payload`');
  }
  const deliverAt = message.deliverAt instanceof Date ? message.deliverAt.getTime() : message.deliverAt;
  return encodePublishFrame({
    payload: toBase64(message.payload),
    ...(message.properties === undefined ? {} : { properties: message.properties }),
    ...(message.key === undefined ? {} : { key: message.key }),
    ...(message.eventTime === undefined ? {} : { eventTime: isoTime(message.eventTime, 'eventTime') }),
    ...(deliverAt === undefined ? {} : { deliverAt }),
    ...(message.deliverAfterMs === undefined ? {} : { deliverAfterMs: message.deliverAfterMs }),
    context,
  });
}

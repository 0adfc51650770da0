/**
 * The JSON frames of the WebSocket API (docs/protocol.md §3.2, §3.3, §4.2, §4.3, §6.2) with decoders that
 * accept and reject exactly what Pulsar's Jackson-bound DTOs do.
 */
import { Base64FormatError, decodeBase64Bytes, decodeBase64Strict } from './base64.js';
import { WebSocketErrorCode } from './codes.js';
import {
  isJsonObject,
  JsonBindError,
  readInteger,
  readString,
  readStringList,
  readStringMap,
  type JsonObject,
} from './json-coerce.js';
import { decodeMessageIdBytes, type MessageIdData } from './message-id.js';
import { DateTimeFormatError, parseOffsetDateTime } from './time.js';

/** Client → server on a producer socket. */
export interface PublishFrame {
  /** Standard base64 of the message bytes; `""` is an empty message. Required. */
  payload: string;
  properties?: Record<string, string>;
  /** Echoed in the ack; correlate acks by it, not by order. */
  context?: string;
  key?: string;
  replicationClusters?: string[];
  /** ISO-8601 with offset. */
  eventTime?: string;
  /** Epoch ms; delayed delivery for Shared/Key_Shared subscriptions. */
  deliverAt?: number;
  /** Delay in ms; wins over `deliverAt`. */
  deliverAfterMs?: number;
}

/** Server → client on a producer socket. */
export interface ProducerAck {
  result: 'ok' | `send-error:${number}`;
  /** Present on success only. */
  messageId?: string;
  errorMsg?: string;
  /** Echoes the request's context when it could be read (never on `send-error:3`). */
  context?: string;
  /** Always 0 on the WebSocket path. */
  errorCode: number;
  /** Always 0 on the WebSocket path. */
  schemaVersion: number;
}

/** Server → client on consumer and reader sockets (docs/protocol.md §4.2). */
export interface DeliveredMessage {
  messageId: string;
  payload: string;
  properties: Record<string, string>;
  publishTime: string;
  redeliveryCount: number;
  eventTime?: string;
  key?: string;
}

/** Server → client answer to `isEndOfTopic`. */
export interface EndOfTopicResponse {
  endOfTopic: boolean;
}

/** A publish frame after validation, ready to store. */
export interface DecodedPublish {
  payload: Buffer;
  properties: Record<string, string>;
  context?: string;
  key?: string;
  replicationClusters?: string[];
  /** Epoch ms, when set. */
  eventTime?: number;
  deliverAt: number;
  deliverAfterMs: number;
}

export type PublishDecodeResult =
  | { readonly kind: 'message'; readonly message: DecodedPublish }
  /** A per-message error: answer with this ack, keep the connection open. */
  | { readonly kind: 'error'; readonly ack: ProducerAck }
  /** Pulsar fails with an unhandled exception here: close 1011 with this reason. */
  | { readonly kind: 'fatal'; readonly reason: string };

export function okAck(messageId: string, context: string | undefined): ProducerAck {
  return {
    result: 'ok',
    messageId,
    ...(context === undefined ? {} : { context }),
    errorCode: 0,
    schemaVersion: 0,
  };
}

export function errorAck(
  code: WebSocketErrorCode,
  errorMsg: string,
  context: string | undefined,
): ProducerAck {
  return {
    result: `send-error:${code}`,
    errorMsg,
    ...(context === undefined ? {} : { context }),
    errorCode: 0,
    schemaVersion: 0,
  };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

function bindPublish(obj: JsonObject): Omit<DecodedPublish, 'payload' | 'eventTime'> & {
  payload?: string;
  eventTime?: string;
} {
  const payload = readString(obj, 'payload');
  const properties = readStringMap(obj, 'properties') ?? {};
  const context = readString(obj, 'context');
  const key = readString(obj, 'key');
  const replicationClusters = readStringList(obj, 'replicationClusters');
  const eventTime = readString(obj, 'eventTime');
  // Ignored by the WebSocket producer, but still bound by Jackson, so a wrong type fails the frame.
  readInteger(obj, 'sequenceId');
  readInteger(obj, 'schemaVersion');
  return {
    ...(payload === undefined ? {} : { payload }),
    properties,
    ...(context === undefined ? {} : { context }),
    ...(key === undefined ? {} : { key }),
    ...(replicationClusters === undefined ? {} : { replicationClusters }),
    ...(eventTime === undefined ? {} : { eventTime }),
    deliverAt: readInteger(obj, 'deliverAt') ?? 0,
    deliverAfterMs: readInteger(obj, 'deliverAfterMs') ?? 0,
  };
}

/** Frames at least this long get their payload cut out before JSON.parse (see splitPayload). */
const SPLIT_PAYLOAD_FROM_BYTES = 4096;
const PAYLOAD_FIELD = Buffer.from('"payload":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether `frame[0, end)` leaves a JSON parser inside the top-level object, outside any string. */
function atTopLevel(frame: Buffer, end: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < end; index++) {
    const byte = frame[index];
    if (inString) {
      if (byte === BACKSLASH) index++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === 0x7b || byte === 0x5b) depth++;
    else if (byte === 0x7d || byte === 0x5d) depth--;
  }
  return depth === 1 && !inString;
}

/**
 * Where a large frame's base64 payload is, and the rest of the frame with an empty payload in its
 * place, for JSON.parse. The payload is then decoded straight from the received bytes: parsing the
 * whole frame would make two strings as large as the frame (its text, and the payload's copy), which
 * for large messages is memory only a later garbage collection gives back. Only for a top-level
 * `"payload":"` whose value holds no escape; otherwise undefined (the whole frame is parsed).
 */
function splitPayload(frame: Buffer): { rest: string; start: number; end: number } | undefined {
  const field = frame.indexOf(PAYLOAD_FIELD);
  if (field < 0 || !atTopLevel(frame, field)) return undefined;
  const start = field + PAYLOAD_FIELD.length;
  const end = frame.indexOf(QUOTE, start);
  const backslash = frame.indexOf(BACKSLASH, start);
  if (end < 0 || (backslash >= 0 && backslash < end)) return undefined;
  return { rest: frame.toString('utf8', 0, start) + frame.toString('utf8', end), start, end };
}

type ParsedPublish =
  | { ok: false; message: string }
  | { ok: true; value: unknown; decodedPayload?: Buffer; payloadText?: string };

/**
 * JSON.parse of a publish frame; a large one's payload is cut out first (see splitPayload) and comes
 * back decoded (or as text, when it is not plain base64, for decodeBase64Strict's verdict). When the
 * rest does not hold that empty payload as its own (a duplicate key, say), the whole frame is parsed.
 */
function parsePublishJson(frame: string | Buffer): ParsedPublish {
  if (typeof frame === 'string') return parseJson(frame);
  const split = frame.length >= SPLIT_PAYLOAD_FROM_BYTES ? splitPayload(frame) : undefined;
  if (split !== undefined) {
    const parsed = parseJson(split.rest);
    if (parsed.ok && isJsonObject(parsed.value) && parsed.value.payload === '') {
      const decodedPayload = decodeBase64Bytes(frame, split.start, split.end);
      return decodedPayload === undefined
        ? { ...parsed, payloadText: frame.toString('utf8', split.start, split.end) }
        : { ...parsed, decodedPayload };
    }
  }
  return parseJson(frame.toString('utf8'));
}

/**
 * Decodes one producer text frame (its text, or its UTF-8 bytes as received) into a message or the
 * error answer Pulsar gives for it.
 */
export function decodePublishFrame(frame: string | Buffer): PublishDecodeResult {
  const parsed = parsePublishJson(frame);
  const badJson = (message: string): PublishDecodeResult => ({
    kind: 'error',
    // Pulsar answers bad JSON without a context, even when the frame had one.
    ack: errorAck(WebSocketErrorCode.FailedToDeserializeFromJson, message, undefined),
  });
  if (!parsed.ok) return badJson(parsed.message);
  // Jackson maps the JSON literal `null` to a null request; Pulsar then fails with an unhandled NPE.
  if (parsed.value === null) return { kind: 'fatal', reason: 'NullPointerException' };
  if (!isJsonObject(parsed.value)) return badJson('expected a JSON object');
  let bound: ReturnType<typeof bindPublish>;
  try {
    bound = bindPublish(parsed.value);
    if (parsed.payloadText !== undefined) bound = { ...bound, payload: parsed.payloadText };
  } catch (error) {
    if (error instanceof JsonBindError) return badJson(error.message);
    throw error;
  }
  const { context } = bound;
  const payloadError = (message: string): PublishDecodeResult => ({
    kind: 'error',
    ack: errorAck(WebSocketErrorCode.PayloadEncodingError, message, context),
  });
  if (bound.payload === undefined)
    // Pulsar decodes a null payload and fails with the JDK's NullPointerException text.
    return payloadError('Cannot invoke "String.getBytes(java.nio.charset.Charset)" because "src" is null');
  let payload: Buffer;
  try {
    payload = parsed.decodedPayload ?? decodeBase64Strict(bound.payload);
  } catch (error) {
    if (error instanceof Base64FormatError)
      return payloadError(`Invalid Base64 message-payload error=${error.message}`);
    throw error;
  }
  let eventTime: number | undefined;
  if (bound.eventTime !== undefined) {
    try {
      eventTime = parseOffsetDateTime(bound.eventTime);
    } catch (error) {
      if (error instanceof DateTimeFormatError) return payloadError(error.message);
      throw error;
    }
  }
  const { payload: _encoded, eventTime: _text, ...fields } = bound;
  return {
    kind: 'message',
    message: { ...fields, payload, ...(eventTime === undefined ? {} : { eventTime }) },
  };
}

/** Client → server on a consumer socket (docs/protocol.md §4.3). */
export type ConsumerCommand =
  | { readonly type: 'ack'; readonly messageId: MessageIdData; readonly rawMessageId: string }
  | { readonly type: 'negativeAcknowledge'; readonly messageId: MessageIdData; readonly rawMessageId: string }
  | { readonly type: 'permit'; readonly permitMessages: number }
  | { readonly type: 'unsubscribe' }
  | { readonly type: 'isEndOfTopic' };

/**
 * How Pulsar fails on a bad command: `drop` is its `close(3)`, which Jetty turns into a dropped TCP
 * connection (client sees 1006); `internal-error` is an unhandled exception (close 1011 + reason).
 */
export interface CommandFailure {
  readonly type: 'failure';
  readonly close: 'drop' | 'internal-error';
  readonly reason: string;
}

function bindCommand(text: string): { readonly fields: JsonObject } | CommandFailure {
  const parsed = parseJson(text);
  if (!parsed.ok)
    return { type: 'failure', close: 'drop', reason: `Failed to de-serialize from JSON: ${parsed.message}` };
  if (parsed.value === null)
    return { type: 'failure', close: 'internal-error', reason: 'NullPointerException' };
  if (!isJsonObject(parsed.value)) {
    return {
      type: 'failure',
      close: 'drop',
      reason: 'Failed to de-serialize from JSON: expected a JSON object',
    };
  }
  return { fields: parsed.value };
}

function decodeIdField(obj: JsonObject): { id: MessageIdData; raw: string } | CommandFailure {
  const raw = readString(obj, 'messageId');
  if (raw === undefined) return { type: 'failure', close: 'internal-error', reason: 'NullPointerException' };
  let bytes: Buffer;
  try {
    bytes = decodeBase64Strict(raw);
  } catch (error) {
    return { type: 'failure', close: 'internal-error', reason: (error as Error).message };
  }
  try {
    return { id: decodeMessageIdBytes(bytes), raw };
  } catch (error) {
    return { type: 'failure', close: 'drop', reason: (error as Error).message };
  }
}

/** Decodes one consumer text frame. Any frame whose `type` is not a known command is an ack. */
export function decodeConsumerCommand(text: string): ConsumerCommand | CommandFailure {
  const bound = bindCommand(text);
  if (!('fields' in bound)) return bound;
  const { fields } = bound;
  let type: string | undefined;
  let permitMessages: number | undefined;
  try {
    type = readString(fields, 'type');
    permitMessages = readInteger(fields, 'permitMessages');
  } catch (error) {
    return {
      type: 'failure',
      close: 'drop',
      reason: `Failed to de-serialize from JSON: ${(error as Error).message}`,
    };
  }
  switch (type) {
    case 'permit':
      if (permitMessages === undefined) {
        return { type: 'failure', close: 'drop', reason: 'Missing required permitMessages field' };
      }
      return { type: 'permit', permitMessages };
    case 'unsubscribe':
      return { type: 'unsubscribe' };
    case 'isEndOfTopic':
      return { type: 'isEndOfTopic' };
    case 'negativeAcknowledge': {
      const id = decodeIdField(fields);
      return 'id' in id ? { type: 'negativeAcknowledge', messageId: id.id, rawMessageId: id.raw } : id;
    }
    default: {
      const id = decodeIdField(fields);
      return 'id' in id ? { type: 'ack', messageId: id.id, rawMessageId: id.raw } : id;
    }
  }
}

/**
 * Decodes one reader text frame (docs/protocol.md §6.2). Only `isEndOfTopic` is a command; every other frame,
 * even invalid JSON, counts as one flow-control credit. Invalid JSON also drops the connection.
 */
export function decodeReaderCommand(
  text: string,
): { readonly type: 'isEndOfTopic' } | { readonly type: 'credit'; readonly dropConnection: boolean } {
  const parsed = parseJson(text);
  // Pulsar's reader closes with its code 3 when the frame does not bind to its command DTO.
  if (!parsed.ok || !isJsonObject(parsed.value)) return { type: 'credit', dropConnection: true };
  try {
    if (readString(parsed.value, 'type') === 'isEndOfTopic') return { type: 'isEndOfTopic' };
  } catch {
    return { type: 'credit', dropConnection: true };
  }
  return { type: 'credit', dropConnection: false };
}

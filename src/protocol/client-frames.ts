/**
 * The frames as the client sees them: encoders for every frame it sends and validating decoders for
 * every frame it receives (producer acks, delivered messages, `isEndOfTopic` answers). The streams use
 * only these, so a frame that does not have the shape docs/protocol.md §3.3, §4.2 and §6.2 describe
 * becomes a `ProtocolError` naming the frame and the field, never a `TypeError` deep in a stream.
 * Unknown extra fields are accepted: servers add fields over versions.
 */
import { ProtocolError } from '../errors.js';
import type { EncryptionContext } from './encryption.js';
import type { DeliveredMessage, ProducerAck, PublishFrame } from './frames.js';
import { isJsonObject, type JsonObject } from './json-coerce.js';

// ---- client → server -------------------------------------------------------------------------

/** A publish request on a producer socket (§3.2). */
export function encodePublishFrame(frame: PublishFrame): string {
  return JSON.stringify(frame);
}

/** Asks a pull-mode consumer's server for `permitMessages` more messages (§4.3). */
export function encodePermitFrame(permitMessages: number): string {
  return JSON.stringify({ type: 'permit', permitMessages });
}

/** Acknowledges a message on a consumer socket; on a reader socket it frees one window slot (§6.2). */
export function encodeAckFrame(messageId: string): string {
  return JSON.stringify({ messageId });
}

/** Asks for a message to be redelivered after the subscription's negative-ack delay (§4.3). */
export function encodeNegativeAckFrame(messageId: string): string {
  return JSON.stringify({ type: 'negativeAcknowledge', messageId });
}

/** Asks a consumer or reader socket whether the topic was terminated and fully read (§4.3). */
export function encodeIsEndOfTopicFrame(): string {
  return JSON.stringify({ type: 'isEndOfTopic' });
}

// ---- server → client -------------------------------------------------------------------------

/** A delivered message as decoded, with the encryption context of an encrypted one. */
export type DecodedDelivery = DeliveredMessage & { readonly encryptionContext?: EncryptionContext };

/** A frame on a consumer or reader socket. */
export type ConsumerServerFrame =
  | { readonly kind: 'message'; readonly message: DecodedDelivery }
  | { readonly kind: 'endOfTopic'; readonly endOfTopic: boolean };

/** What a frame is called in errors, after the socket it came on and what it should have been. */
export type ServerFrameKind = 'producer ack' | 'consumer frame' | 'reader frame';

function invalid(frameKind: ServerFrameKind, field: string | undefined, problem: string): ProtocolError {
  const where = field === undefined ? '' : ` field \`${field}\``;
  return new ProtocolError(`the server sent an invalid ${frameKind}:${where} ${problem}`, {
    frameKind,
    ...(field === undefined ? {} : { field }),
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function parseObject(text: string, frameKind: ServerFrameKind): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ProtocolError(
      `the server sent a ${frameKind} that is not JSON: ${JSON.stringify(text.slice(0, 100))}`,
      { cause: error, frameKind },
    );
  }
  if (!isJsonObject(value))
    throw invalid(frameKind, undefined, `expected a JSON object, got ${describe(value)}`);
  return value;
}

function requireString(obj: JsonObject, field: string, frameKind: ServerFrameKind): string {
  const value = obj[field];
  if (typeof value !== 'string') {
    throw invalid(
      frameKind,
      field,
      value === undefined ? 'is missing' : `expected a string, got ${describe(value)}`,
    );
  }
  return value;
}

function optionalString(obj: JsonObject, field: string, frameKind: ServerFrameKind): string | undefined {
  const value = obj[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(frameKind, field, `expected a string, got ${describe(value)}`);
  return value;
}

function stringMap(obj: JsonObject, field: string, frameKind: ServerFrameKind): Record<string, string> {
  const value = obj[field];
  // Pulsar always sends `properties` ({} when none); older servers may omit it.
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) throw invalid(frameKind, field, `expected an object, got ${describe(value)}`);
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      throw invalid(frameKind, `${field}.${key}`, `expected a string, got ${describe(entry)}`);
    }
  }
  return value as Record<string, string>;
}

/**
 * Decodes a producer socket's answer to a publish (§3.3). `result` is required; an `ok` ack must
 * carry the `messageId` the broker assigned. @throws ProtocolError
 */
export function decodeProducerAckFrame(text: string): ProducerAck {
  const kind: ServerFrameKind = 'producer ack';
  const obj = parseObject(text, kind);
  const result = requireString(obj, 'result', kind);
  if (result !== 'ok' && !result.startsWith('send-error')) {
    throw invalid(kind, 'result', `expected "ok" or "send-error:N", got ${describe(result)}`);
  }
  const messageId =
    result === 'ok' ? requireString(obj, 'messageId', kind) : optionalString(obj, 'messageId', kind);
  const context = optionalString(obj, 'context', kind);
  const errorMsg = optionalString(obj, 'errorMsg', kind);
  return {
    result: result as ProducerAck['result'],
    ...(messageId === undefined ? {} : { messageId }),
    ...(context === undefined ? {} : { context }),
    ...(errorMsg === undefined ? {} : { errorMsg }),
    errorCode: typeof obj.errorCode === 'number' ? obj.errorCode : 0,
    schemaVersion: typeof obj.schemaVersion === 'number' ? obj.schemaVersion : 0,
  };
}

/**
 * Decodes a frame on a consumer or reader socket: a delivered message (§4.2) or the answer to
 * `isEndOfTopic`. Anything else is a `ProtocolError`. The `payload` is checked to be a string, not
 * decoded: the stream decodes it once, into the message's Buffer.
 */
export function decodeConsumerServerFrame(
  text: string,
  frameKind: 'consumer frame' | 'reader frame' = 'consumer frame',
): ConsumerServerFrame {
  const obj = parseObject(text, frameKind);
  if (obj.messageId === undefined && 'endOfTopic' in obj) {
    if (typeof obj.endOfTopic !== 'boolean') {
      throw invalid(frameKind, 'endOfTopic', `expected a boolean, got ${describe(obj.endOfTopic)}`);
    }
    return { kind: 'endOfTopic', endOfTopic: obj.endOfTopic };
  }
  const messageId = requireString(obj, 'messageId', frameKind);
  if (messageId === '') throw invalid(frameKind, 'messageId', 'is empty');
  const payload = requireString(obj, 'payload', frameKind);
  const publishTime = requireString(obj, 'publishTime', frameKind);
  const redeliveryCount = obj.redeliveryCount ?? 0;
  if (typeof redeliveryCount !== 'number' || !Number.isInteger(redeliveryCount) || redeliveryCount < 0) {
    throw invalid(frameKind, 'redeliveryCount', `expected an integer >= 0, got ${describe(redeliveryCount)}`);
  }
  const eventTime = optionalString(obj, 'eventTime', frameKind);
  const key = optionalString(obj, 'key', frameKind);
  const encryptionContext = encryptionContextOf(obj, frameKind);
  return {
    kind: 'message',
    message: {
      messageId,
      payload,
      properties: stringMap(obj, 'properties', frameKind),
      publishTime,
      redeliveryCount,
      ...(eventTime === undefined ? {} : { eventTime }),
      ...(key === undefined ? {} : { key }),
      ...(encryptionContext === undefined ? {} : { encryptionContext }),
    },
  };
}

/**
 * The `encryptionContext` of an encrypted message (§4.2), checked as far as decryption relies on
 * it: an object whose `keys` is an object and whose `param` (the IV) is a string.
 */
function encryptionContextOf(obj: JsonObject, frameKind: ServerFrameKind): EncryptionContext | undefined {
  const value = obj.encryptionContext;
  if (value === undefined || value === null) return undefined;
  const field = 'encryptionContext';
  if (!isJsonObject(value)) throw invalid(frameKind, field, `expected an object, got ${describe(value)}`);
  if (!isJsonObject(value.keys)) {
    throw invalid(frameKind, `${field}.keys`, `expected an object, got ${describe(value.keys)}`);
  }
  if (typeof value.param !== 'string') {
    throw invalid(frameKind, `${field}.param`, `expected a string, got ${describe(value.param)}`);
  }
  return value as unknown as EncryptionContext;
}

/**
 * The encryption fields of the WebSocket API (Pulsar 4.0.7): the `encryptionContext` a consumer
 * message carries, the client-side (PIP-290) `encryptionKeys` query value and the per-message
 * `encryptionParam` / `compressionType` / `uncompressedMessageSize` publish fields. Kept apart from
 * frames.ts so the plain frame codecs stay untouched by this feature.
 */
import { Base64FormatError, decodeBase64Strict } from './base64.js';
import { WebSocketErrorCode } from './codes.js';
import { errorAck, type ProducerAck } from './frames.js';
import { isJsonObject } from './json-coerce.js';
import { COMPRESSION_TYPES, type CompressionType } from './params.js';

/** One wrapped copy of the message's data key (`EncryptionContext.EncryptionKey`). */
export interface EncryptionContextKey {
  /** Base64 of the RSA-OAEP(SHA-1)-wrapped AES data key. */
  keyValue: string;
  /** The key reader's metadata; `{}` when there is none, never absent. */
  metadata: Record<string, string>;
}

/**
 * `encryptionContext` of a consumer message, with 4.0.7's field order: keys, param, algorithm (only
 * when set), compressionType, uncompressedMessageSize, batchSize (a number, or `null` for a single
 * message). Pulsar 2.8-2.11 rendered batchSize as `{"empty":bool,"present":bool}`; readers of this
 * type should accept that shape too (see `batchSizeOf`).
 */
export interface EncryptionContext {
  keys: Record<string, EncryptionContextKey>;
  /** Base64 of the 12-byte AES-GCM IV. */
  param: string;
  algorithm?: string;
  compressionType: CompressionType;
  uncompressedMessageSize: number;
  batchSize: number | null | { empty: boolean; present: boolean };
}

/** How many messages a context says the decrypted body holds: a count, 'unknown' (legacy shape), or null. */
export function batchSizeOf(context: EncryptionContext): number | 'unknown' | null {
  const { batchSize } = context;
  if (batchSize === null || batchSize === undefined) return null;
  if (typeof batchSize === 'number') return batchSize;
  return batchSize.present ? 'unknown' : null;
}

/** The client-side key map sent as `encryptionKeys`: key name → wrapped data key and metadata. */
export type ClientSideKeys = Record<string, { keyValue: string; metadata?: Record<string, string> }>;

/** `encryptionKeys` for client-side mode: base64 of the JSON map (URLSearchParams URL-encodes it). */
export function encodeClientSideKeys(keys: ClientSideKeys): string {
  return Buffer.from(JSON.stringify(keys), 'utf8').toString('base64');
}

/**
 * Pulsar's `tryToExtractJsonEncryptionKeys`: the value is client-side mode when it is standard base64
 * of a non-empty JSON object whose first entry has a `keyValue`. Anything else (undefined) means the
 * value is a comma-separated list of key names for server-side mode.
 */
export function parseClientSideKeys(value: string): Record<string, unknown> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(decodeBase64Strict(value.trim()).toString('utf8'));
  } catch (error) {
    if (error instanceof Base64FormatError || error instanceof SyntaxError) return undefined;
    throw error;
  }
  if (!isJsonObject(json)) return undefined;
  const entries = Object.entries(json);
  const first = entries[0]?.[1];
  if (
    first === undefined ||
    !isJsonObject(first) ||
    first.keyValue === undefined ||
    first.keyValue === null
  ) {
    return undefined;
  }
  return json;
}

/** The per-message client-side fields of a publish frame, validated as Pulsar does. */
export interface PublishEncryptionFields {
  /** The IV, when `encryptionParam` was given. */
  readonly param?: Buffer;
  readonly compressionType?: CompressionType;
  readonly uncompressedMessageSize?: number;
}

/**
 * Reads `encryptionParam`, `compressionType` and `uncompressedMessageSize` from a publish frame that
 * already decoded as a message. Returns the error ack Pulsar answers for a bad combination.
 */
export function decodePublishEncryption(
  text: string,
  context: string | undefined,
): PublishEncryptionFields | { readonly ack: ProducerAck } {
  const frame = JSON.parse(text) as Record<string, unknown>;
  const fail = (message: string): { ack: ProducerAck } => ({
    ack: errorAck(WebSocketErrorCode.PayloadEncodingError, message, context),
  });
  const result: { -readonly [K in keyof PublishEncryptionFields]: PublishEncryptionFields[K] } = {};
  const param = frame.encryptionParam;
  if (typeof param === 'string') {
    try {
      result.param = decodeBase64Strict(param);
    } catch (error) {
      if (error instanceof Base64FormatError) {
        return fail(`Invalid Base64 encryptionParam error=${error.message}`);
      }
      throw error;
    }
  }
  const compression = frame.compressionType;
  const size = frame.uncompressedMessageSize;
  const hasCompression = compression !== undefined && compression !== null;
  const hasSize = size !== undefined && size !== null;
  if (hasCompression !== hasSize) {
    return fail('the params compressionType and uncompressedMessageSize should both empty or both non-empty');
  }
  if (hasCompression) {
    const type = COMPRESSION_TYPES.find((name) => name === compression);
    if (type === undefined || typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
      return fail(
        `Invalid compressionType ${JSON.stringify(compression)} or uncompressedMessageSize ${JSON.stringify(size)}`,
      );
    }
    result.compressionType = type;
    result.uncompressedMessageSize = size;
  }
  return result;
}

/** What client-side encryption puts into a publish frame. */
export interface ClientSideEncryptedPayload {
  readonly payload: Buffer;
  /** The IV. */
  readonly param: Buffer;
  readonly compressionType: CompressionType;
  readonly uncompressedMessageSize: number;
}

/**
 * Rewrites a publish frame for client-side mode: the payload replaced by what `encrypt` makes of it,
 * plus `encryptionParam`, `compressionType` and `uncompressedMessageSize`. Other fields are kept.
 */
export function encryptPublishFrame(
  text: string,
  encrypt: (payload: Buffer) => ClientSideEncryptedPayload,
): string {
  const frame = JSON.parse(text) as Record<string, unknown>;
  const payload = typeof frame.payload === 'string' ? Buffer.from(frame.payload, 'base64') : Buffer.alloc(0);
  const sealed = encrypt(payload);
  return JSON.stringify({
    ...frame,
    payload: sealed.payload.toString('base64'),
    encryptionParam: sealed.param.toString('base64'),
    compressionType: sealed.compressionType,
    uncompressedMessageSize: sealed.uncompressedMessageSize,
  });
}

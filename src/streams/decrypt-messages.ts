/**
 * Client-side decryption of consumed messages (Pulsar's PIP-290 consumer side): a consumer with
 * `cryptoFailureAction=CONSUME` receives ciphertext plus `encryptionContext`; this turns such messages
 * into plaintext ones with the holder's RSA private keys, decompressing and splitting batches into
 * their messages (per-message key, properties, event time). Acknowledgement stays attached: each output
 * is a consumer message whose `ack()` counts toward its source, which is acknowledged once every message
 * of its batch was; a `nack()` of any of them nacks the source.
 *
 * ```ts
 * pipeline(client.consumer(topic, sub, { cryptoFailureAction: 'CONSUME' }),
 *          decryptMessages({ privateKeys: { 'my-key': pem } }), ackingSink(write));
 * ```
 */
import type { KeyObject } from 'node:crypto';
import { Transform } from 'node:stream';
import {
  decryptMessage,
  KeyFormatError,
  MessageDecryptError,
  parsePrivateKey,
  PrivateKeyRing,
  type SingleMessage,
} from '../encryption/index.js';
import { DecryptionError, InvalidArgumentError } from '../errors.js';
import { formatOffsetDateTime } from '../protocol/index.js';
import { isConsumerMessage, toConsumerMessage, type ConsumerMessage } from './consumer-message.js';

/**
 * What happens to a message that cannot be decrypted: `fail` destroys the stream with a
 * `DecryptionError` naming the message's keys; `pass` lets it through as it came (ciphertext and
 * `encryptionContext`); `nack` asks for its redelivery and drops it from the stream.
 */
export type DecryptFailureMode = 'fail' | 'pass' | 'nack';

export const DECRYPT_FAILURE_MODES: readonly DecryptFailureMode[] = ['fail', 'pass', 'nack'];

export interface DecryptMessagesOptions {
  /** RSA private keys by key name (the names producers encrypt for): PEM text or buffers, or KeyObjects. */
  readonly privateKeys: Readonly<Record<string, string | Buffer | KeyObject>>;
  /** @default 'fail' */
  readonly onError?: DecryptFailureMode;
}

/** A resolved decryptor: the key ring and the failure mode. */
export interface Decryptor {
  readonly ring: PrivateKeyRing;
  readonly onError: DecryptFailureMode;
}

/** @throws InvalidArgumentError naming a key that is not an RSA private key, or a bad `onError`. */
export function resolveDecryptor(options: DecryptMessagesOptions): Decryptor {
  if (typeof options !== 'object' || options === null || typeof options.privateKeys !== 'object') {
    throw new InvalidArgumentError(
      'expected `privateKeys` to be an object of key name → RSA private key PEM',
    );
  }
  const entries = Object.entries(options.privateKeys);
  if (entries.length === 0) throw new InvalidArgumentError('expected at least one key in `privateKeys`');
  const keys = new Map<string, KeyObject>();
  for (const [name, key] of entries) {
    try {
      keys.set(
        name,
        typeof key === 'string' || Buffer.isBuffer(key)
          ? parsePrivateKey(key, `privateKeys.${name}`)
          : parsePrivateKey(key.export({ type: 'pkcs8', format: 'pem' }), `privateKeys.${name}`),
      );
    } catch (error) {
      if (error instanceof KeyFormatError) throw new InvalidArgumentError(error.message, { cause: error });
      throw new InvalidArgumentError(`privateKeys.${name} is not a private key: ${(error as Error).message}`);
    }
  }
  const onError = options.onError ?? 'fail';
  if (!DECRYPT_FAILURE_MODES.includes(onError)) {
    throw new InvalidArgumentError(
      `expected \`onError\` to be one of ${DECRYPT_FAILURE_MODES.join(', ')}, got ${JSON.stringify(onError)}`,
    );
  }
  return { ring: new PrivateKeyRing(keys), onError };
}

/** A decrypted message: the source's fields, or a batch member's own key, properties and event time. */
function plaintextMessage(
  source: ConsumerMessage,
  payload: Buffer,
  member: SingleMessage | undefined,
  settle: (kind: 'ack' | 'nack') => void,
): ConsumerMessage {
  const properties = member === undefined ? source.properties : member.properties;
  const key = member === undefined ? source.key : member.key;
  const eventTime = member === undefined ? source.eventTime?.getTime() : member.eventTime;
  return toConsumerMessage(
    {
      messageId: source.messageId,
      payload: payload.toString('base64'),
      properties: { ...properties },
      publishTime: formatOffsetDateTime(source.publishTime.getTime()),
      redeliveryCount: source.redeliveryCount,
      ...(eventTime === undefined ? {} : { eventTime: formatOffsetDateTime(eventTime) }),
      ...(key === undefined ? {} : { key }),
    },
    settle,
    source.topic,
  );
}

/**
 * The plaintext message(s) for one consumed message: itself when it is not encrypted, one message, or
 * a batch's messages. A failure follows `decryptor.onError` (an empty list for `nack`).
 * @throws DecryptionError with `onError: 'fail'`
 */
export function decryptConsumerMessage(decryptor: Decryptor, message: ConsumerMessage): ConsumerMessage[] {
  const context = message.encryptionContext;
  if (context === undefined) return [message];
  let result: ReturnType<typeof decryptMessage>;
  try {
    result = decryptMessage(decryptor.ring, message.payload, context);
  } catch (error) {
    if (!(error instanceof MessageDecryptError)) throw error;
    if (decryptor.onError === 'pass') return [message];
    if (decryptor.onError === 'nack') {
      message.nack();
      return [];
    }
    throw new DecryptionError(
      `cannot decrypt message ${message.messageId}: ${error.message}`,
      error.keyNames,
      message.messageId,
      { cause: error },
    );
  }
  if (result.batch === null) {
    return [plaintextMessage(message, result.body, undefined, (kind) => settleSource(message, kind))];
  }
  if (result.batch.length === 0) {
    message.ack();
    return [];
  }
  let left = result.batch.length;
  const settle = (kind: 'ack' | 'nack'): void => {
    if (kind === 'nack') settleSource(message, 'nack');
    else if (--left === 0) settleSource(message, 'ack');
  };
  return result.batch.map((member) => plaintextMessage(message, member.payload, member, settle));
}

function settleSource(message: ConsumerMessage, kind: 'ack' | 'nack'): void {
  if (kind === 'ack') message.ack();
  else message.nack();
}

/**
 * A `Transform` (objectMode; also a `stream-chain` step) from consumer messages to decrypted consumer
 * messages. Messages without `encryptionContext` pass unchanged; anything that is not a consumer
 * message is an error.
 */
export function decryptMessages(options: DecryptMessagesOptions): Transform {
  const decryptor = resolveDecryptor(options);
  return new Transform({
    objectMode: true,
    transform(chunk: unknown, _encoding, callback) {
      if (!isConsumerMessage(chunk)) {
        callback(new InvalidArgumentError('decryptMessages() reads the messages of a consumer stream'));
        return;
      }
      try {
        for (const message of decryptConsumerMessage(decryptor, chunk)) this.push(message);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}

/**
 * What a producer's `encryptionKeys` asks for (Pulsar 4.0.7, ProducerHandler): nothing, server-side
 * encryption with the broker's keys (a comma-separated list of names), or client-side (PIP-290)
 * encryption where the client sends ciphertext and the broker only records the key map and each
 * message's IV and compression.
 */
import type { KeyObject } from 'node:crypto';
import {
  decodePublishEncryption,
  HandshakeMessagePrefix,
  isJsonObject,
  parseClientSideKeys,
  type CompressionType,
  type DecodedPublish,
  type ProducerAck,
  type ProducerParams,
} from '../../protocol/index.js';
import { PayloadEncryptor, type EncryptionKeyEntry, type MessageEncryption } from '../../encryption/index.js';
import { HandshakeError } from '../handshake/common.js';
import type { BrokerKeyStore } from './key-store.js';

/** Applied to each accepted publish: the payload to store and its encryption, or an error ack. */
export type PublishEncryption = (
  text: string,
  request: DecodedPublish,
) => { readonly payload: Buffer; readonly encryption: MessageEncryption } | { readonly ack: ProducerAck };

const NO_KEY_READER = "Can't add encryption key without configuring cryptoKeyReaderFactoryClassName";

/**
 * Resolves the producer's encryption mode at handshake time.
 * @throws HandshakeError 400 for an invalid client-side key map, 500 for server-side mode without a key
 *   source or with a key name the source has no public key for.
 */
export async function producerEncryption(
  params: ProducerParams,
  topicName: string,
  store: BrokerKeyStore | undefined,
): Promise<PublishEncryption | undefined> {
  const value = params.encryptionKeys;
  if (value === undefined) return undefined;
  const clientSide = parseClientSideKeys(value);
  if (clientSide !== undefined) return clientSideEncryption(clientSideEntries(clientSide));
  if (store === undefined)
    throw new HandshakeError(500, `${HandshakeMessagePrefix.producer}${NO_KEY_READER}`);
  // Pulsar splits on ',' without trimming, so " a" is a different key name from "a".
  const publicKeys = new Map<string, { key: KeyObject }>();
  for (const name of value.split(',')) {
    const key = await store.publicKey(name);
    if (key === undefined) {
      throw new HandshakeError(
        500,
        `${HandshakeMessagePrefix.producer}The producer null of the topic ${topicName} adds the public key cipher was failed`,
      );
    }
    publicKeys.set(name, { key });
  }
  return serverSideEncryption(new PayloadEncryptor(publicKeys), params.compressionType ?? 'NONE');
}

function invalid(message: string): HandshakeError {
  return new HandshakeError(400, `${HandshakeMessagePrefix.invalidParams}${message}`);
}

/** Pulsar's checks of each map entry; key names are trimmed. */
function clientSideEntries(map: Record<string, unknown>): EncryptionKeyEntry[] {
  return Object.entries(map).map(([rawName, entry]) => {
    const name = rawName.trim();
    if (name === '') throw invalid('Empty param encryptionKeys.key');
    if (entry === null || entry === undefined) throw invalid('Empty param encryptionKeys.value');
    if (!isJsonObject(entry) || entry.keyValue === null || entry.keyValue === undefined) {
      throw invalid('Empty param encryptionKeys.value.keyValue');
    }
    if (typeof entry.keyValue !== 'string')
      throw invalid(`encryptionKeys.${name}.keyValue must be base64 text`);
    const metadata: Record<string, string> = {};
    if (isJsonObject(entry.metadata)) {
      for (const [key, metaValue] of Object.entries(entry.metadata)) metadata[key] = String(metaValue);
    }
    return { name, value: entry.keyValue, metadata };
  });
}

function clientSideEncryption(keys: readonly EncryptionKeyEntry[]): PublishEncryption {
  return (text, request) => {
    const fields = decodePublishEncryption(text, request.context);
    if ('ack' in fields) return fields;
    const compression: CompressionType = fields.compressionType ?? 'NONE';
    return {
      payload: request.payload,
      encryption: {
        keys,
        param: (fields.param ?? Buffer.alloc(0)).toString('base64'),
        compression,
        // Without the fields, Java's producer records the size of the bytes it was given.
        uncompressedSize: fields.uncompressedMessageSize ?? request.payload.length,
      },
    };
  };
}

function serverSideEncryption(encryptor: PayloadEncryptor, compression: CompressionType): PublishEncryption {
  return (_text, request) => {
    encryptor.rotateIfDue();
    return encryptor.encrypt(request.payload, compression);
  };
}

/**
 * Pulsar's message crypto (MessageCryptoBc / C++ MessageCrypto), RSA path: a random 32-byte AES data
 * key wrapped with RSA-OAEP (SHA-1, MGF1-SHA-1) per key name; each payload AES-256-GCM encrypted with
 * a fresh 12-byte IV and the 16-byte tag appended; no AAD. Compression happens before encryption.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import type { ClientSideKeys, CompressionType, EncryptionContext } from '../protocol/index.js';
import { compress } from './codecs.js';

export const DATA_KEY_BYTES = 32;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
/** Pulsar producers generate a new data key every 4 hours. */
export const DATA_KEY_ROTATION_MILLIS = 4 * 60 * 60 * 1000;

/** The encryption metadata of one stored or sent message (MessageMetadata fields 8, 9, 11, 13, 15). */
export interface MessageEncryption {
  readonly keys: readonly EncryptionKeyEntry[];
  /** Base64 of the IV. */
  readonly param: string;
  readonly compression: CompressionType;
  readonly uncompressedSize: number;
  /** Set for a batch: how many single messages the decrypted body holds. */
  readonly numMessages?: number;
}

export interface EncryptionKeyEntry {
  readonly name: string;
  /** Base64 of the wrapped data key. */
  readonly value: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export function wrapDataKey(publicKey: KeyObject, dataKey: Buffer): Buffer {
  return publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    dataKey,
  );
}

export function unwrapDataKey(privateKey: KeyObject, wrapped: Buffer): Buffer {
  return privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    wrapped,
  );
}

/** AES-GCM with the key's size (16 bytes if the producer's JVM was limited to AES-128). */
function gcmAlgorithm(dataKey: Buffer): 'aes-256-gcm' | 'aes-128-gcm' {
  return dataKey.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm';
}

export function encryptPayload(dataKey: Buffer, body: Buffer): { iv: Buffer; payload: Buffer } {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(gcmAlgorithm(dataKey), dataKey, iv, { authTagLength: TAG_BYTES });
  return { iv, payload: Buffer.concat([cipher.update(body), cipher.final(), cipher.getAuthTag()]) };
}

/** @throws Error (OpenSSL's "Unsupported state or unable to authenticate data") on a wrong key or tampering. */
export function decryptPayload(dataKey: Buffer, iv: Buffer, payload: Buffer): Buffer {
  if (payload.length < TAG_BYTES) throw new Error(`encrypted payload of ${payload.length} bytes has no tag`);
  const decipher = createDecipheriv(gcmAlgorithm(dataKey), dataKey, iv, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(payload.subarray(payload.length - TAG_BYTES));
  return Buffer.concat([decipher.update(payload.subarray(0, payload.length - TAG_BYTES)), decipher.final()]);
}

export interface PublicKeyEntry {
  readonly key: KeyObject;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Encrypts payloads for a fixed set of key names, as a Pulsar producer does: one data key, wrapped
 * once per name, reused until it is rotated (every 4 hours by default).
 */
export class PayloadEncryptor {
  private dataKey = Buffer.alloc(0);
  private keys: EncryptionKeyEntry[] = [];
  private generatedAt = -Infinity;

  constructor(
    private readonly publicKeys: ReadonlyMap<string, PublicKeyEntry>,
    private readonly rotationMillis = DATA_KEY_ROTATION_MILLIS,
  ) {
    this.rotate();
  }

  /** The current key entries (what client-side mode sends as `encryptionKeys`). */
  get keyEntries(): readonly EncryptionKeyEntry[] {
    return this.keys;
  }

  /** A new data key; returns true. Called on construction and whenever the key is older than the rotation. */
  private rotate(): void {
    this.dataKey = randomBytes(DATA_KEY_BYTES);
    this.keys = [...this.publicKeys].map(([name, { key, metadata }]) => ({
      name,
      value: wrapDataKey(key, this.dataKey).toString('base64'),
      metadata: { ...metadata },
    }));
    this.generatedAt = Date.now();
  }

  /** True when the data key was rotated since the last call (client-side mode must then reconnect). */
  rotateIfDue(now = Date.now()): boolean {
    if (now - this.generatedAt < this.rotationMillis) return false;
    this.rotate();
    return true;
  }

  /** Compresses, then encrypts `body`; returns the payload to store or send and its metadata. */
  encrypt(
    body: Buffer,
    compression: CompressionType = 'NONE',
  ): { payload: Buffer; encryption: MessageEncryption } {
    const compressed = compress(compression, body);
    const { iv, payload } = encryptPayload(this.dataKey, compressed);
    return {
      payload,
      encryption: {
        keys: this.keys,
        param: iv.toString('base64'),
        compression,
        uncompressedSize: body.length,
      },
    };
  }
}

/** `encryptionContext` as Pulsar 4.0.7 renders it, field order included. */
export function encryptionContextOf(encryption: MessageEncryption): EncryptionContext {
  return {
    keys: Object.fromEntries(
      encryption.keys.map(({ name, value, metadata }) => [
        name,
        { keyValue: value, metadata: { ...metadata } },
      ]),
    ),
    param: encryption.param,
    compressionType: encryption.compression,
    uncompressedMessageSize: encryption.uncompressedSize,
    batchSize: encryption.numMessages ?? null,
  };
}

/** The client-side (PIP-290) `encryptionKeys` map for these entries. */
export function clientSideKeysOf(entries: readonly EncryptionKeyEntry[]): ClientSideKeys {
  return Object.fromEntries(
    entries.map(({ name, value, metadata }) => [name, { keyValue: value, metadata: { ...metadata } }]),
  );
}

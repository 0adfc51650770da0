/**
 * The consumer side of Pulsar's message crypto: unwraps the data key with whichever private key the
 * holder has for the message's key names, AES-GCM-decrypts, decompresses and splits a batch.
 */
import type { KeyObject } from 'node:crypto';
import { batchSizeOf, type EncryptionContext } from '../protocol/index.js';
import { splitBatch, type SingleMessage } from './batch.js';
import { decompress } from './codecs.js';
import { decryptPayload, unwrapDataKey } from './message-crypto.js';

/** Why a message could not be decrypted, with the key names it was encrypted for. */
export class MessageDecryptError extends Error {
  override readonly name = 'MessageDecryptError';
  constructor(
    message: string,
    /** The key names the message carries. */
    readonly keyNames: readonly string[],
    /** True when none of those names has a private key here (as opposed to a key that did not work). */
    readonly noMatchingKey: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Unwrapped data keys are cached by their wrapped value: a producer reuses one for up to 4 hours. */
const DATA_KEY_CACHE_ENTRIES = 64;

/** Private keys by name, with a small cache of unwrapped data keys. */
export class PrivateKeyRing {
  private readonly dataKeys = new Map<string, Buffer>();

  constructor(private readonly keys: ReadonlyMap<string, KeyObject>) {}

  get names(): string[] {
    return [...this.keys.keys()];
  }

  has(name: string): boolean {
    return this.keys.has(name);
  }

  /** @throws MessageDecryptError when no held key unwraps any of the context's data keys. */
  dataKeyFor(context: Pick<EncryptionContext, 'keys'>): Buffer {
    const names = Object.keys(context.keys);
    const failures: string[] = [];
    for (const [name, { keyValue }] of Object.entries(context.keys)) {
      const privateKey = this.keys.get(name);
      if (privateKey === undefined) continue;
      const cached = this.dataKeys.get(keyValue);
      if (cached !== undefined) return cached;
      try {
        const dataKey = unwrapDataKey(privateKey, Buffer.from(keyValue, 'base64'));
        if (this.dataKeys.size >= DATA_KEY_CACHE_ENTRIES) {
          const oldest = this.dataKeys.keys().next().value;
          if (oldest !== undefined) this.dataKeys.delete(oldest);
        }
        this.dataKeys.set(keyValue, dataKey);
        return dataKey;
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message}`);
      }
    }
    if (failures.length === 0) {
      throw new MessageDecryptError(
        `no private key for the message's encryption key(s) ${names.join(', ')} (have: ${this.names.join(', ') || 'none'})`,
        names,
        true,
      );
    }
    throw new MessageDecryptError(`cannot unwrap the data key with ${failures.join('; ')}`, names, false);
  }
}

/**
 * Decrypts and decompresses one encrypted payload. Returns the single messages of a batch, or null
 * when the body is one message (`body` is then the plaintext).
 * @throws MessageDecryptError (bad key, tampered payload, bad compression or batch framing)
 */
export function decryptMessage(
  ring: PrivateKeyRing,
  payload: Buffer,
  context: EncryptionContext,
): { body: Buffer; batch: SingleMessage[] | null } {
  const names = Object.keys(context.keys);
  const dataKey = ring.dataKeyFor(context);
  try {
    const compressed = decryptPayload(dataKey, Buffer.from(context.param, 'base64'), payload);
    const body = decompress(context.compressionType, compressed, context.uncompressedMessageSize);
    const size = batchSizeOf(context);
    return { body, batch: size === null ? null : splitBatch(body, size) };
  } catch (error) {
    throw new MessageDecryptError(
      `cannot decrypt the message encrypted for ${names.join(', ')}: ${(error as Error).message}`,
      names,
      false,
      { cause: error },
    );
  }
}

/**
 * The stream options for end-to-end encryption: a producer that encrypts every payload itself
 * (client-side mode, Pulsar's PIP-290: the keys never leave this process, the server stores ciphertext)
 * and a consumer that asks for ciphertext (`cryptoFailureAction=CONSUME`) and decrypts it here.
 */
import type { KeyObject } from 'node:crypto';
import { WsSession, type SessionOptions } from '../client/session.js';
import { KeyFormatError, parsePublicKey, PayloadEncryptor, clientSideKeysOf } from '../encryption/index.js';
import { InvalidArgumentError } from '../errors.js';
import {
  COMPRESSION_TYPES,
  DEFAULT_MAX_TEXT_FRAME_SIZE,
  encodeClientSideKeys,
  encryptPublishFrame,
  type CompressionType,
} from '../protocol/index.js';
import { isConsumerMessage } from './consumer-message.js';
import { ConsumerStream, type ConsumerStreamOptions } from './consumer-stream.js';
import { decryptConsumerMessage, type Decryptor } from './decrypt-messages.js';

export interface ProducerEncryptionOptions {
  /** RSA public keys by key name: consumers need the private key of any one of them. */
  readonly keys: Readonly<Record<string, string | Buffer | KeyObject>>;
  /** Compression applied before encryption (the server cannot compress ciphertext). @default 'NONE' */
  readonly compression?: CompressionType;
}

/** A producer's client-side encryption: the data key (wrapped per key name) and the compression. */
export class ClientSideEncryption {
  private constructor(
    private readonly encryptor: PayloadEncryptor,
    private readonly compression: CompressionType,
  ) {}

  /** @throws InvalidArgumentError naming a key that is not an RSA public key, or a bad compression. */
  static resolve(options: ProducerEncryptionOptions): ClientSideEncryption {
    if (typeof options !== 'object' || options === null || typeof options.keys !== 'object') {
      throw new InvalidArgumentError(
        'expected `encryption.keys` to be an object of key name → RSA public key PEM',
      );
    }
    const entries = Object.entries(options.keys);
    if (entries.length === 0)
      throw new InvalidArgumentError('expected at least one key in `encryption.keys`');
    const keys = new Map<string, { key: KeyObject }>();
    for (const [name, key] of entries) {
      if (name.trim() === '') throw new InvalidArgumentError('an `encryption.keys` name is empty');
      try {
        const pem =
          typeof key === 'string' || Buffer.isBuffer(key) ? key : key.export({ type: 'spki', format: 'pem' });
        keys.set(name, { key: parsePublicKey(pem, `encryption.keys.${name}`) });
      } catch (error) {
        if (error instanceof KeyFormatError) throw new InvalidArgumentError(error.message, { cause: error });
        throw new InvalidArgumentError(
          `encryption.keys.${name} is not a public key: ${(error as Error).message}`,
        );
      }
    }
    const compression = options.compression ?? 'NONE';
    if (!COMPRESSION_TYPES.includes(compression)) {
      throw new InvalidArgumentError(
        `expected \`encryption.compression\` to be one of ${COMPRESSION_TYPES.join(', ')}, got ${JSON.stringify(compression)}`,
      );
    }
    return new ClientSideEncryption(new PayloadEncryptor(keys), compression);
  }

  /**
   * The frame limit to check plaintext frames against: encryption adds the tag, the IV and three fields,
   * and compression can grow incompressible data slightly (LZ4 and Snappy by up to about 0.5 %), so a
   * plaintext frame within this budget stays within `maxFrameBytes` once encrypted.
   */
  static frameBudget(maxFrameBytes = DEFAULT_MAX_TEXT_FRAME_SIZE): number {
    return Math.max(1, Math.floor(maxFrameBytes * 0.99) - 512);
  }

  /**
   * The `encryptionKeys` query value for the next connection. The data key is rotated here (when it is
   * older than 4 hours, as Pulsar producers do) because the key map is fixed per connection.
   */
  encryptionKeysParam(): string {
    this.encryptor.rotateIfDue();
    return encodeClientSideKeys(clientSideKeysOf(this.encryptor.keyEntries));
  }

  /** Encrypts a publish frame's payload and adds the per-message fields. */
  encryptFrame(text: string): string {
    return encryptPublishFrame(text, (body) => {
      // An empty body is sent uncompressed: the C++ (and so Python) client does not decode a compressed
      // empty payload (seen with ZLIB and LZ4 in pulsar-client 3.13), and there is nothing to gain.
      const compression = body.length === 0 ? 'NONE' : this.compression;
      const { payload, encryption } = this.encryptor.encrypt(body, compression);
      return {
        payload,
        param: Buffer.from(encryption.param, 'base64'),
        compressionType: compression,
        uncompressedMessageSize: body.length,
      };
    });
  }
}

/**
 * A producer session that encrypts each frame as it goes out: a resend after a reconnect is encrypted
 * again, under the key map of the connection it is sent on.
 */
export class EncryptingSession extends WsSession {
  constructor(
    options: SessionOptions,
    private readonly encryption: ClientSideEncryption,
  ) {
    super(options);
  }

  override send(text: string): boolean {
    return super.send(this.encryption.encryptFrame(text));
  }
}

/** A consumer stream that emits decrypted messages (see `decryptMessages`). */
export class DecryptingConsumerStream extends ConsumerStream {
  constructor(
    session: WsSession,
    options: ConsumerStreamOptions,
    private readonly decryptor: Decryptor,
  ) {
    super(session, options);
  }

  override push(chunk: unknown): boolean {
    if (chunk === null || !isConsumerMessage(chunk)) return super.push(chunk);
    let outputs;
    try {
      outputs = decryptConsumerMessage(this.decryptor, chunk);
    } catch (error) {
      this.destroy(error as Error);
      return false;
    }
    if (outputs.length === 0) {
      // Nothing pushed means Node may not call _read again: ask for the permit that message used.
      process.nextTick(() => {
        if (!this.destroyed) this.read(0);
      });
      return true;
    }
    let more = true;
    for (const output of outputs) more = super.push(output);
    return more;
  }
}

/** Pulsar's message crypto, codecs, batch framing and the encryption frame fields, without a server. */
import { generateKeyPairSync } from 'node:crypto';
import { constants, createDeflate } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  BatchFormatError,
  buildBatch,
  compress,
  CompressionCodecError,
  decompress,
  decryptMessage,
  encryptionContextOf,
  MessageDecryptError,
  PayloadEncryptor,
  PrivateKeyRing,
  splitBatch,
  type SingleMessage,
} from '../../src/encryption/index.js';
import {
  batchSizeOf,
  decodePublishEncryption,
  encodeClientSideKeys,
  parseClientSideKeys,
} from '../../src/protocol/index.js';

const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** What Java's CompressionCodecZLib writes: a zlib stream flushed with SYNC_FLUSH, never finished. */
function javaStyleZlib(body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const deflate = createDeflate();
    const chunks: Buffer[] = [];
    deflate.on('data', (chunk: Buffer) => chunks.push(chunk));
    deflate.on('error', reject);
    deflate.write(body);
    deflate.flush(constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(chunks)));
  });
}

describe('codecs', () => {
  const body = Buffer.from('compress me '.repeat(100));
  it.each(['NONE', 'ZLIB', 'LZ4', 'ZSTD', 'SNAPPY'] as const)('%s round-trips', (type) => {
    const packed = compress(type, body);
    if (type !== 'NONE') expect(packed.length).toBeLessThan(body.length);
    expect(decompress(type, packed, body.length).equals(body)).toBe(true);
  });

  it('reads a sync-flushed, unfinished zlib stream as Java producers send it', async () => {
    expect(decompress('ZLIB', await javaStyleZlib(body), body.length).equals(body)).toBe(true);
  });

  it('refuses a body that does not decompress to the stated size', () => {
    expect(() => decompress('LZ4', compress('LZ4', body), body.length + 1)).toThrow(CompressionCodecError);
    expect(() => decompress('SNAPPY', Buffer.from('garbage'), 10)).toThrow(CompressionCodecError);
  });
});

describe('batch framing', () => {
  it('splits what buildBatch framed, and reads frames to the end for the legacy batchSize', () => {
    const messages: SingleMessage[] = [
      { payload: Buffer.from('a'), properties: { k: 'v' }, key: 'x', eventTime: 5 },
      { payload: Buffer.alloc(0), properties: {} },
    ];
    const body = buildBatch(messages);
    expect(splitBatch(body, 2)).toEqual(messages);
    expect(splitBatch(body, 'unknown')).toEqual(messages);
  });

  it('refuses a body that does not frame into the stated count', () => {
    const body = buildBatch([{ payload: Buffer.from('a'), properties: {} }]);
    expect(() => splitBatch(body, 2)).toThrow(BatchFormatError);
    expect(() => splitBatch(Buffer.concat([body, Buffer.from([1])]), 1)).toThrow(BatchFormatError);
    expect(() => splitBatch(body.subarray(0, body.length - 1), 1)).toThrow(BatchFormatError);
  });
});

describe('message crypto', () => {
  const encryptor = new PayloadEncryptor(new Map([['k', { key: pair.publicKey, metadata: { m: '1' } }]]));

  it('encrypts as Pulsar does: 32-byte data key, 12-byte IV, tag appended, one data key per producer', () => {
    const first = encryptor.encrypt(Buffer.from('hello'));
    const second = encryptor.encrypt(Buffer.from('hello'));
    expect(first.payload.length).toBe(5 + 16);
    expect(Buffer.from(first.encryption.param, 'base64')).toHaveLength(12);
    expect(first.encryption.keys[0]?.value).toBe(second.encryption.keys[0]?.value);
    expect(first.encryption.param).not.toBe(second.encryption.param);
    const context = encryptionContextOf(first.encryption);
    expect(Object.keys(context)).toEqual([
      'keys',
      'param',
      'compressionType',
      'uncompressedMessageSize',
      'batchSize',
    ]);
    expect(context.keys.k?.metadata).toEqual({ m: '1' });
    const ring = new PrivateKeyRing(new Map([['k', pair.privateKey]]));
    expect(decryptMessage(ring, first.payload, context)).toEqual({ body: Buffer.from('hello'), batch: null });
  });

  it('names the key when it has no private key for it, and fails on a wrong key or a tampered payload', () => {
    const sealed = encryptor.encrypt(Buffer.from('secret'));
    const context = encryptionContextOf(sealed.encryption);
    const none = new PrivateKeyRing(new Map([['other', other.privateKey]]));
    expect(() => none.dataKeyFor(context)).toThrow(/no private key for the message's encryption key\(s\) k/);
    const wrong = new PrivateKeyRing(new Map([['k', other.privateKey]]));
    expect(() => decryptMessage(wrong, sealed.payload, context)).toThrow(MessageDecryptError);
    const right = new PrivateKeyRing(new Map([['k', pair.privateKey]]));
    const tampered = Buffer.from(sealed.payload);
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    expect(() => decryptMessage(right, tampered, context)).toThrow(MessageDecryptError);
  });
});

describe('encryption frame fields', () => {
  it("detects client-side key maps exactly as Pulsar's tryToExtractJsonEncryptionKeys", () => {
    const map = encodeClientSideKeys({ k: { keyValue: 'AAAA' } });
    expect(parseClientSideKeys(map)).toEqual({ k: { keyValue: 'AAAA' } });
    expect(parseClientSideKeys(` ${map} `)).toBeDefined();
    expect(parseClientSideKeys('k1,k2')).toBeUndefined();
    expect(parseClientSideKeys(encodeClientSideKeys({}))).toBeUndefined();
    expect(parseClientSideKeys(Buffer.from('{"k":{"metadata":{}}}').toString('base64'))).toBeUndefined();
    expect(parseClientSideKeys(Buffer.from('[1]').toString('base64'))).toBeUndefined();
    expect(parseClientSideKeys(map.replaceAll('+', '-'))).toEqual(
      map.includes('+') ? undefined : { k: { keyValue: 'AAAA' } },
    );
  });

  it('reads the per-message fields and answers bad ones with send-error:7', () => {
    expect(
      decodePublishEncryption(
        JSON.stringify({ encryptionParam: 'AAAA', compressionType: 'LZ4', uncompressedMessageSize: 3 }),
        'c',
      ),
    ).toEqual({ param: Buffer.from('AAAA', 'base64'), compressionType: 'LZ4', uncompressedMessageSize: 3 });
    expect(decodePublishEncryption(JSON.stringify({ uncompressedMessageSize: 3 }), 'c')).toMatchObject({
      ack: { result: 'send-error:7', context: 'c' },
    });
    expect(decodePublishEncryption(JSON.stringify({ encryptionParam: 'a-b' }), undefined)).toMatchObject({
      ack: {
        result: 'send-error:7',
        errorMsg: 'Invalid Base64 encryptionParam error=Illegal base64 character 2d',
      },
    });
  });

  it('batchSize: a number, null, or the legacy {present} shape', () => {
    const base = { keys: {}, param: '', compressionType: 'NONE', uncompressedMessageSize: 0 } as const;
    expect(batchSizeOf({ ...base, batchSize: 3 })).toBe(3);
    expect(batchSizeOf({ ...base, batchSize: null })).toBeNull();
    expect(batchSizeOf({ ...base, batchSize: { empty: false, present: true } })).toBe('unknown');
    expect(batchSizeOf({ ...base, batchSize: { empty: true, present: false } })).toBeNull();
  });
});

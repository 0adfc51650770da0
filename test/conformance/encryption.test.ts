/**
 * End-to-end encryption on the WebSocket API, as Pulsar 4.0.7 does it: server-side mode
 * (`encryptionKeys=<names>`, the server's key source encrypts), client-side mode (PIP-290: the client
 * sends ciphertext and a base64 JSON key map), the consumers' `cryptoFailureAction` outcomes, the exact
 * `encryptionContext` shape, readers (never a context) and multi-topic consumers.
 *
 * Key `ws-server`: the server holds both halves (it decrypts for consumers). Key `ws-client`: the
 * server holds only the public half; the private half stays with the test (see helpers/crypto-keys.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/broker/index.js';
import {
  clientSideKeysOf,
  decryptMessage,
  parsePrivateKey,
  parsePublicKey,
  PayloadEncryptor,
  PrivateKeyRing,
} from '../../src/encryption/index.js';
import {
  encodeClientSideKeys,
  type ClientSideKeys,
  type EncryptionContext,
} from '../../src/protocol/index.js';
import { CLIENT_KEY, cryptoKeysAvailable, SERVER_KEY, testCryptoKeys } from '../helpers/crypto-keys.js';
import {
  consumerUrl,
  producerUrl,
  readerUrl,
  uniqueTopic,
  useTarget,
  type Target,
} from '../helpers/target.js';
import { base64, fromBase64, HandshakeRefusedError, SocketPool, TestSocket } from '../helpers/ws-client.js';

const keys = testCryptoKeys();
const target = useTarget({ cryptoKeysDir: keys.brokerDir });
const pool = new SocketPool();
afterEach(() => pool.closeAll());
afterAll(async () => {
  if (process.env.PULSAR_CRYPTO_KEYS_DIR !== keys.root) await rm(keys.root, { recursive: true, force: true });
});

interface Delivered {
  messageId: string;
  payload: string;
  properties: Record<string, string>;
  key?: string;
  encryptionContext?: EncryptionContext;
}

interface Ack {
  result: string;
  messageId?: string;
  errorMsg?: string;
  errorCode: number;
}

const earliest = '?subscriptionInitialPosition=Earliest';

async function refusal(url: string): Promise<{ status: number; body: string }> {
  try {
    const socket = await TestSocket.open(url);
    await socket.close();
    return { status: 101, body: '' };
  } catch (error) {
    if (error instanceof HandshakeRefusedError) return { status: error.status, body: error.body };
    throw error;
  }
}

async function produce(t: Target, topic: string, query: string, frames: readonly object[]): Promise<Ack[]> {
  const producer = await pool.open(producerUrl(t, topic, query));
  frames.forEach((frame) => producer.send(frame));
  return producer.take<Ack>(frames.length);
}

function clientRing(): PrivateKeyRing {
  return new PrivateKeyRing(
    new Map([[CLIENT_KEY, parsePrivateKey(keys.privatePem(CLIENT_KEY), CLIENT_KEY)]]),
  );
}

function decrypted(message: Delivered): string {
  if (message.encryptionContext === undefined) throw new Error('no encryptionContext');
  const { body } = decryptMessage(
    clientRing(),
    Buffer.from(message.payload, 'base64'),
    message.encryptionContext,
  );
  return body.toString('utf8');
}

describe.skipIf(!cryptoKeysAvailable)('encryption (server-side and client-side modes)', () => {
  describe('server-side mode: encryptionKeys=<names>', () => {
    it('a key name the server has no public key for is refused with HTTP 500', async () => {
      const { status, body } = await refusal(
        producerUrl(target, uniqueTopic(), '?encryptionKeys=no-such-key'),
      );
      expect(status).toBe(500);
      expect(body).toContain('adds the public key cipher was failed');
    });

    it('a key the server can decrypt: consumers get plaintext and still an encryptionContext', async () => {
      const topic = uniqueTopic();
      const acks = await produce(target, topic, `?encryptionKeys=${SERVER_KEY}`, [
        { payload: base64('secret one'), key: 'k1', properties: { a: '1' } },
      ]);
      expect(acks[0]?.result).toBe('ok');
      const consumer = await pool.open(consumerUrl(target, topic, 'sub', earliest));
      const message = await consumer.next<Delivered>();
      expect(fromBase64(message.payload)).toBe('secret one');
      expect(message.key).toBe('k1');
      expect(message.properties).toEqual({ a: '1' });
      const context = message.encryptionContext;
      expect(context).toBeDefined();
      // 4.0.7's rendering: field order, metadata {}, batchSize null, the Java producer's uncompressed size.
      expect(Object.keys(message)).toEqual([
        'messageId',
        'payload',
        'properties',
        'publishTime',
        'redeliveryCount',
        'encryptionContext',
        'key',
      ]);
      expect(Object.keys(context ?? {})).toEqual([
        'keys',
        'param',
        'compressionType',
        'uncompressedMessageSize',
        'batchSize',
      ]);
      expect(Object.keys(context?.keys ?? {})).toEqual([SERVER_KEY]);
      expect(context?.keys[SERVER_KEY]?.metadata).toEqual({});
      expect(Buffer.from(context?.keys[SERVER_KEY]?.keyValue ?? '', 'base64')).toHaveLength(256);
      expect(Buffer.from(context?.param ?? '', 'base64')).toHaveLength(12);
      expect(context?.compressionType).toBe('NONE');
      expect(context?.uncompressedMessageSize).toBe('secret one'.length);
      expect(context?.batchSize).toBeNull();
    });

    it('a key only clients can decrypt: CONSUME gets ciphertext that the private key opens', async () => {
      const topic = uniqueTopic();
      await produce(target, topic, `?encryptionKeys=${CLIENT_KEY}&compressionType=ZLIB`, [
        { payload: base64('for the client '.repeat(20)), properties: { p: 'v' } },
        { payload: base64('second') },
      ]);
      const consumer = await pool.open(
        consumerUrl(target, topic, 'sub', `${earliest}&cryptoFailureAction=CONSUME`),
      );
      const [first, second] = await consumer.take<Delivered>(2);
      if (first === undefined || second === undefined) throw new Error('missing messages');
      expect(first.properties).toEqual({ p: 'v' });
      expect(first.encryptionContext?.compressionType).toBe('ZLIB');
      expect(first.encryptionContext?.uncompressedMessageSize).toBe(300);
      expect(fromBase64(first.payload)).not.toContain('for the client');
      expect(decrypted(first)).toBe('for the client '.repeat(20));
      expect(decrypted(second)).toBe('second');
      // One data key per producer: the same wrapped key, a fresh IV per message.
      expect(second.encryptionContext?.keys[CLIENT_KEY]?.keyValue).toBe(
        first.encryptionContext?.keys[CLIENT_KEY]?.keyValue,
      );
      expect(second.encryptionContext?.param).not.toBe(first.encryptionContext?.param);
    });

    it('FAIL (the default, and what an invalid action means) withholds the message and leaves it unacked', async () => {
      const topic = uniqueTopic();
      await produce(target, topic, `?encryptionKeys=${CLIENT_KEY}`, [{ payload: base64('locked') }]);
      await produce(target, topic, '', [{ payload: base64('plain') }]);
      for (const [subscription, query] of [
        ['default', earliest],
        ['bogus', `${earliest}&cryptoFailureAction=BOGUS`],
      ] as const) {
        const consumer = await pool.open(consumerUrl(target, topic, subscription, query));
        const message = await consumer.next<Delivered>();
        expect(fromBase64(message.payload)).toBe('plain');
        expect(message.encryptionContext).toBeUndefined();
        consumer.send({ messageId: message.messageId });
        expect(await consumer.drain()).toEqual([]);
        await consumer.close();
      }
      // Never acknowledged: a CONSUME consumer of the same subscription still gets it.
      const consume = await pool.open(
        consumerUrl(target, topic, 'default', `${earliest}&cryptoFailureAction=CONSUME`),
      );
      const locked = await consume.next<Delivered>();
      expect(decrypted(locked)).toBe('locked');
    });

    it('DISCARD acknowledges the message it cannot decrypt', async () => {
      const topic = uniqueTopic();
      await produce(target, topic, `?encryptionKeys=${CLIENT_KEY}`, [{ payload: base64('dropped') }]);
      await produce(target, topic, '', [{ payload: base64('plain') }]);
      const discard = await pool.open(
        consumerUrl(target, topic, 'sub', `${earliest}&cryptoFailureAction=DISCARD`),
      );
      const message = await discard.next<Delivered>();
      expect(fromBase64(message.payload)).toBe('plain');
      discard.send({ messageId: message.messageId });
      expect(await discard.drain()).toEqual([]);
      await discard.close();
      const consume = await pool.reopen(
        consumerUrl(target, topic, 'sub', `${earliest}&cryptoFailureAction=CONSUME`),
      );
      expect(await consume.drain()).toEqual([]);
    });

    it('readers never carry encryptionContext: ciphertext with CONSUME, plaintext when the server can decrypt', async () => {
      const topic = uniqueTopic();
      await produce(target, topic, `?encryptionKeys=${CLIENT_KEY}`, [{ payload: base64('reader secret') }]);
      await produce(target, topic, `?encryptionKeys=${SERVER_KEY}`, [{ payload: base64('server opens') }]);
      const reader = await pool.open(
        readerUrl(target, topic, '?messageId=earliest&cryptoFailureAction=CONSUME'),
      );
      const [cipher, plain] = await reader.take<Delivered>(2);
      expect(cipher).not.toHaveProperty('encryptionContext');
      expect(Buffer.from(cipher?.payload ?? '', 'base64')).toHaveLength('reader secret'.length + 16);
      expect(plain).not.toHaveProperty('encryptionContext');
      expect(fromBase64(plain?.payload ?? '')).toBe('server opens');
    });

    it('a multi-topic consumer is a consumer: encryptionContext and the CONSUME outcome', async () => {
      const a = uniqueTopic();
      const b = uniqueTopic();
      await produce(target, a, `?encryptionKeys=${CLIENT_KEY}`, [{ payload: base64('from a') }]);
      await produce(target, b, `?encryptionKeys=${SERVER_KEY}`, [{ payload: base64('from b') }]);
      const consumer = await pool.open(
        `${target.wsUrl}/ws/v3/consumer/sub?subscriptionInitialPosition=Earliest&cryptoFailureAction=CONSUME&topics=${a},${b}`,
      );
      const messages = await consumer.take<Delivered>(2);
      const texts = messages.map((m) =>
        m.encryptionContext?.keys[CLIENT_KEY] === undefined ? fromBase64(m.payload) : decrypted(m),
      );
      expect(texts.sort()).toEqual(['from a', 'from b']);
      expect(messages.every((m) => m.encryptionContext !== undefined)).toBe(true);
    });
  });

  describe('client-side mode (PIP-290): encryptionKeys=<base64 JSON key map>', () => {
    function clientEncryptor(): PayloadEncryptor {
      return new PayloadEncryptor(
        new Map([
          [
            CLIENT_KEY,
            { key: parsePublicKey(keys.publicPem(CLIENT_KEY), CLIENT_KEY), metadata: { purpose: 'test' } },
          ],
        ]),
      );
    }

    function keyMapQuery(encryptor: PayloadEncryptor): string {
      return `?encryptionKeys=${encodeURIComponent(encodeClientSideKeys(clientSideKeysOf(encryptor.keyEntries)))}`;
    }

    it('stores the payload as sent; consumers get it with the key map, IV and compression as context', async () => {
      const topic = uniqueTopic();
      const encryptor = clientEncryptor();
      const plain = Buffer.from('client-side '.repeat(10));
      const zlib = encryptor.encrypt(plain, 'ZLIB');
      const none = encryptor.encrypt(Buffer.from('tiny'));
      const acks = await produce(target, topic, keyMapQuery(encryptor), [
        {
          payload: zlib.payload.toString('base64'),
          encryptionParam: zlib.encryption.param,
          compressionType: 'ZLIB',
          uncompressedMessageSize: plain.length,
          key: 'k',
          properties: { x: 'y' },
        },
        { payload: none.payload.toString('base64'), encryptionParam: none.encryption.param },
      ]);
      expect(acks.map((ack) => ack.result)).toEqual(['ok', 'ok']);
      const consumer = await pool.open(
        consumerUrl(target, topic, 'sub', `${earliest}&cryptoFailureAction=CONSUME`),
      );
      const [first, second] = await consumer.take<Delivered>(2);
      expect(first?.payload).toBe(zlib.payload.toString('base64'));
      expect(first?.key).toBe('k');
      expect(first?.encryptionContext).toEqual({
        keys: { [CLIENT_KEY]: { keyValue: encryptor.keyEntries[0]?.value, metadata: { purpose: 'test' } } },
        param: zlib.encryption.param,
        compressionType: 'ZLIB',
        uncompressedMessageSize: plain.length,
        batchSize: null,
      });
      expect(decrypted(first as Delivered)).toBe(plain.toString());
      expect(second?.encryptionContext?.compressionType).toBe('NONE');
      expect(decrypted(second as Delivered)).toBe('tiny');
    });

    it('answers bad per-message fields with send-error:7 and keeps the connection', async () => {
      const topic = uniqueTopic();
      const encryptor = clientEncryptor();
      const sealed = encryptor.encrypt(Buffer.from('x'));
      const acks = await produce(target, topic, keyMapQuery(encryptor), [
        {
          payload: sealed.payload.toString('base64'),
          encryptionParam: sealed.encryption.param,
          compressionType: 'ZLIB',
        },
        { payload: sealed.payload.toString('base64'), encryptionParam: 'not base64!' },
        { payload: sealed.payload.toString('base64'), encryptionParam: sealed.encryption.param },
      ]);
      expect(acks[0]).toMatchObject({
        result: 'send-error:7',
        errorMsg:
          'the params compressionType and uncompressedMessageSize should both empty or both non-empty',
        errorCode: 0,
      });
      expect(acks[1]?.result).toBe('send-error:7');
      expect(acks[1]?.errorMsg).toMatch(/^Invalid Base64 encryptionParam error=/);
      expect(acks[2]?.result).toBe('ok');
    });

    it('refuses a key map entry without keyValue (after the first) with HTTP 400', async () => {
      const encryptor = clientEncryptor();
      const map = {
        ...clientSideKeysOf(encryptor.keyEntries),
        other: { metadata: {} },
      } as unknown as ClientSideKeys;
      const { status, body } = await refusal(
        producerUrl(
          target,
          uniqueTopic(),
          `?encryptionKeys=${encodeURIComponent(encodeClientSideKeys(map))}`,
        ),
      );
      expect(status).toBe(400);
      expect(body).toContain('Empty param encryptionKeys.value.keyValue');
    });
  });
});

describe.skipIf(!target.embedded)('encryption on an embedded broker without a key source', () => {
  let broker: EmbeddedBroker;
  let dataDir: string;
  const bare: Target = { wsUrl: '', adminUrl: '', embedded: true };
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pws-nokeys-'));
    broker = await EmbeddedBroker.start({ port: 0, dataDir, fsync: 'never' });
    Object.assign(bare, { wsUrl: broker.url, adminUrl: broker.httpUrl });
  });
  afterAll(async () => {
    await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("refuses server-side mode with Pulsar's HTTP 500 text", async () => {
    const { status, body } = await refusal(producerUrl(bare, uniqueTopic(), `?encryptionKeys=${SERVER_KEY}`));
    expect(status).toBe(500);
    expect(body).toContain(
      'Failed to create producer/consumer: Can&#39;t add encryption key without configuring cryptoKeyReaderFactoryClassName',
    );
  });

  it('still serves client-side mode, which needs no key source', async () => {
    const encryptor = new PayloadEncryptor(
      new Map([[CLIENT_KEY, { key: parsePublicKey(keys.publicPem(CLIENT_KEY), CLIENT_KEY) }]]),
    );
    const map = clientSideKeysOf(encryptor.keyEntries);
    const sealed = encryptor.encrypt(Buffer.from('no server keys'));
    const topic = uniqueTopic();
    const acks = await produce(
      bare,
      topic,
      `?encryptionKeys=${encodeURIComponent(encodeClientSideKeys(map))}`,
      [{ payload: sealed.payload.toString('base64'), encryptionParam: sealed.encryption.param }],
    );
    expect(acks[0]?.result).toBe('ok');
    const consumer = await pool.open(
      consumerUrl(bare, topic, 'sub', `${earliest}&cryptoFailureAction=CONSUME`),
    );
    expect(decrypted(await consumer.next<Delivered>())).toBe('no server keys');
  });
});

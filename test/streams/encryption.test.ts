/**
 * End-to-end encryption in the streams: the producer's client-side `encryption` option, the consumer's
 * `decryption` option, and `decryptMessages` as a Transform and a stream-chain step, with every
 * compression codec, batches split with their own keys and properties, acknowledgement kept attached,
 * and each `onError` mode. Runs on the embedded broker, or real Pulsar when PULSAR_WS_URL is set.
 */
import { generateKeyPairSync } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import chain from 'stream-chain';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildBatch, parsePublicKey, PayloadEncryptor } from '../../src/encryption/index.js';
import {
  ackingSink,
  decryptMessages,
  DecryptionError,
  InvalidArgumentError,
  PulsarWsClient,
  type CompressionType,
  type ConsumerMessage,
} from '../../src/index.js';
import { toConsumerMessage } from '../../src/streams/consumer-message.js';
import { encryptionContextOf } from '../../src/encryption/index.js';
import { CLIENT_KEY, cryptoKeysAvailable, testCryptoKeys } from '../helpers/crypto-keys.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const keys = testCryptoKeys();
const target = useTarget({ cryptoKeysDir: keys.brokerDir });
const clients: PulsarWsClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});
afterAll(async () => {
  if (process.env.PULSAR_CRYPTO_KEYS_DIR !== keys.root) await rm(keys.root, { recursive: true, force: true });
});

function newClient(): PulsarWsClient {
  const client = new PulsarWsClient({ url: target.wsUrl, reconnect: { maxDelayMs: 1000 } });
  clients.push(client);
  return client;
}

async function take(stream: Readable, count: number): Promise<ConsumerMessage[]> {
  const messages: ConsumerMessage[] = [];
  for await (const message of stream as AsyncIterable<ConsumerMessage>) {
    messages.push(message);
    message.ack();
    if (messages.length === count) break;
  }
  return messages;
}

async function produce(
  client: PulsarWsClient,
  topic: string,
  messages: readonly { payload: string; key?: string; properties?: Record<string, string> }[],
  compression: CompressionType = 'NONE',
): Promise<void> {
  await pipeline(
    Readable.from(messages),
    client.producer(topic, {
      encryption: { keys: { [CLIENT_KEY]: keys.publicPem(CLIENT_KEY) }, compression },
    }),
  );
}

const earliest = { subscriptionInitialPosition: 'Earliest' } as const;
const privateKeys = (): Record<string, string> => ({ [CLIENT_KEY]: keys.privatePem(CLIENT_KEY) });

describe.skipIf(!cryptoKeysAvailable)('client-side encryption through the streams', () => {
  it.each(['NONE', 'ZLIB', 'LZ4', 'ZSTD', 'SNAPPY'] as const)(
    'producer `encryption` (%s) → consumer `decryption` round trip; the server only sees ciphertext',
    async (compression) => {
      const client = newClient();
      const topic = uniqueTopic(`enc-${compression.toLowerCase()}`);
      const text = `payload compressed with ${compression} `.repeat(8);
      await produce(
        client,
        topic,
        [{ payload: text, key: 'k1', properties: { p: '1' } }, { payload: 'two' }],
        compression,
      );
      const raw = await take(
        client.consumer(topic, 'raw', { ...earliest, cryptoFailureAction: 'CONSUME' }),
        2,
      );
      expect(raw[0]?.payload.toString()).not.toContain('payload compressed');
      expect(raw[0]?.encryptionContext?.compressionType).toBe(compression);
      const plain = await take(
        client.consumer(topic, 'plain', { ...earliest, decryption: { privateKeys: privateKeys() } }),
        2,
      );
      expect(plain.map((m) => m.payload.toString())).toEqual([text, 'two']);
      expect(plain[0]?.key).toBe('k1');
      expect(plain[0]?.properties).toEqual({ p: '1' });
      expect(plain[0]?.encryptionContext).toBeUndefined();
    },
  );

  it('decryptMessages in a pipeline and in a stream-chain acknowledges what the sink wrote', async () => {
    const client = newClient();
    const topic = uniqueTopic('enc-pipe');
    await produce(client, topic, [{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }]);
    const written: string[] = [];
    const sink = (): Writable =>
      ackingSink(
        new Writable({
          objectMode: true,
          write(message: ConsumerMessage, _encoding, callback) {
            written.push(message.payload.toString());
            callback();
          },
        }),
      );
    const controller = new AbortController();
    const consumer = client.consumer(topic, 's', { ...earliest, cryptoFailureAction: 'CONSUME' });
    const done = pipeline(
      consumer,
      chain([decryptMessages({ privateKeys: privateKeys() })]) as Duplex,
      sink(),
      { signal: controller.signal },
    );
    while (written.length < 3) await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await expect(done).rejects.toThrow(/abort/);
    expect(written).toEqual(['a', 'b', 'c']);
    // All three were acknowledged through the transform: nothing is redelivered.
    await produce(client, topic, [{ payload: 'd' }]);
    const next = await take(
      client.consumer(topic, 's', { ...earliest, decryption: { privateKeys: privateKeys() } }),
      1,
    );
    expect(next.map((m) => m.payload.toString())).toEqual(['d']);
  });

  it('without a matching key: fail names the keys, pass hands on ciphertext, nack redelivers', async () => {
    const client = newClient();
    const topic = uniqueTopic('enc-nokey');
    // A key neither the server nor the test's consumers hold (except the last one).
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await pipeline(
      Readable.from(['elsewhere']),
      client.producer(topic, { encryption: { keys: { 'other-key': other.publicKey } } }),
    );
    const failing = client.consumer(topic, 'fail', {
      ...earliest,
      decryption: { privateKeys: privateKeys() },
    });
    const error = await take(failing, 1).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DecryptionError);
    expect((error as DecryptionError).keyNames).toEqual(['other-key']);
    expect((error as DecryptionError).message).toContain('other-key');

    const passed = await take(
      client.consumer(topic, 'pass', {
        ...earliest,
        decryption: { privateKeys: privateKeys(), onError: 'pass' },
      }),
      1,
    );
    expect(passed[0]?.encryptionContext?.keys).toHaveProperty('other-key');

    const nacking = client.consumer(topic, 'nack', {
      ...earliest,
      negativeAckRedeliveryDelay: 0,
      decryption: { privateKeys: privateKeys(), onError: 'nack' },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    nacking.destroy();
    // Still unacknowledged: a consumer that can decrypt it gets it.
    const retried = await take(
      client.consumer(topic, 'nack', {
        ...earliest,
        decryption: { privateKeys: { 'other-key': other.privateKey } },
      }),
      1,
    );
    expect(retried[0]?.payload.toString()).toBe('elsewhere');
  });

  it('survives sockets cut mid-stream: frames resent after a reconnect are encrypted again and decrypt', async () => {
    const proxy = await startFaultProxy(target.wsUrl);
    try {
      const client = new PulsarWsClient({ url: proxy.url, reconnect: { maxDelayMs: 200 } });
      clients.push(client);
      const topic = uniqueTopic('enc-cuts');
      const payloads = Array.from({ length: 1000 }, (_, i) => `m${i}`);
      const producer = client.producer(topic, {
        maxInFlight: 100,
        encryption: { keys: { [CLIENT_KEY]: keys.publicPem(CLIENT_KEY) }, compression: 'LZ4' },
      });
      let acked = 0;
      producer.on('ack', () => {
        acked += 1;
        if (acked === 300 || acked === 700) proxy.cut();
      });
      await pipeline(Readable.from(payloads), producer);
      expect(proxy.cuts).toBe(2);
      const seen = new Set<string>();
      const consumer = newClient().consumer(topic, 's', {
        ...earliest,
        decryption: { privateKeys: privateKeys() },
      });
      for await (const message of consumer as AsyncIterable<ConsumerMessage>) {
        seen.add(message.payload.toString());
        message.ack();
        if (seen.size === payloads.length) break;
      }
      expect([...seen].sort()).toEqual([...payloads].sort());
    } finally {
      await proxy.close();
    }
  });

  it('refuses bad keys and option mixes before connecting', () => {
    const client = newClient();
    expect(() => client.producer('t', { encryption: { keys: { k: 'not a pem' } } })).toThrow(
      InvalidArgumentError,
    );
    expect(() =>
      client.producer('t', {
        encryptionKeys: 'a',
        encryption: { keys: { [CLIENT_KEY]: keys.publicPem(CLIENT_KEY) } },
      }),
    ).toThrow(/not both/);
    expect(() =>
      client.consumer('t', 's', { decryption: { privateKeys: { k: keys.publicPem(CLIENT_KEY) } } }),
    ).toThrow(/privateKeys\.k/);
    expect(() =>
      client.consumer('t', 's', { cryptoFailureAction: 'FAIL', decryption: { privateKeys: privateKeys() } }),
    ).toThrow(/CONSUME/);
    expect(() => decryptMessages({ privateKeys: privateKeys(), onError: 'drop' as 'fail' })).toThrow(
      /onError/,
    );
  });
});

describe('decryptMessages on batches (as Java, C++ and Python producers send them)', () => {
  it('splits a compressed batch into its messages and acks the source once all were acked', async () => {
    const encryptor = new PayloadEncryptor(
      new Map([[CLIENT_KEY, { key: parsePublicKey(keys.publicPem(CLIENT_KEY), CLIENT_KEY) }]]),
    );
    const body = buildBatch([
      { payload: Buffer.from('one'), properties: { n: '1' }, key: 'k1', eventTime: 1_700_000_000_000 },
      { payload: Buffer.from('two'), properties: {}, key: 'k2' },
      { payload: Buffer.from(''), properties: { empty: 'yes' } },
    ]);
    const { payload, encryption } = encryptor.encrypt(body, 'LZ4');
    const settled: string[] = [];
    const source = toConsumerMessage(
      {
        messageId: 'CAEQAA==',
        payload: payload.toString('base64'),
        properties: {},
        publishTime: new Date().toISOString(),
        redeliveryCount: 0,
        encryptionContext: encryptionContextOf({ ...encryption, numMessages: 3 }),
        key: 'k1',
      },
      (kind) => settled.push(kind),
    );
    const out: ConsumerMessage[] = [];
    await pipeline(
      Readable.from([source]),
      decryptMessages({ privateKeys: privateKeys() }),
      new Writable({
        objectMode: true,
        write(message: ConsumerMessage, _encoding, callback) {
          out.push(message);
          callback();
        },
      }),
    );
    expect(out.map((m) => [m.payload.toString(), m.key, m.properties])).toEqual([
      ['one', 'k1', { n: '1' }],
      ['two', 'k2', {}],
      ['', undefined, { empty: 'yes' }],
    ]);
    expect(out[0]?.eventTime?.getTime()).toBe(1_700_000_000_000);
    expect(out.every((m) => m.messageId === 'CAEQAA==')).toBe(true);
    out[0]?.ack();
    out[1]?.ack();
    expect(settled).toEqual([]);
    out[2]?.ack();
    expect(settled).toEqual(['ack']);
  });
});

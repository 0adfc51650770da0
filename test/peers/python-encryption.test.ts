/**
 * Encryption interop with the Python `pulsar-client` (binary protocol, C++ MessageCrypto): its batched,
 * compressed, encrypted messages are decrypted by `decryptMessages` (through the consumer's `decryption`
 * option), and what our producer's client-side `encryption` option sends is decrypted by Python. Needs
 * real Pulsar (`PULSAR_SERVICE_URL`) and the test keys (`PULSAR_CRYPTO_KEYS_DIR`).
 */
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PulsarWsClient, type CompressionType, type ConsumerMessage } from '../../src/index.js';
import { CLIENT_KEY, testCryptoKeys } from '../helpers/crypto-keys.js';
import { runPythonPeer } from '../helpers/python-peer.js';
import { externalTarget, uniqueTopic, useTarget } from '../helpers/target.js';

const PEER = fileURLToPath(new URL('./pulsar_crypto_peer.py', import.meta.url));
const serviceUrl = process.env.PULSAR_SERVICE_URL ?? '';
const keysDir = process.env.PULSAR_CRYPTO_KEYS_DIR ?? '';
const target = useTarget();
const clients: PulsarWsClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

const messages = [
  { payload: Buffer.from([0x00, 0xff, 0x80, 0x0a]), properties: { a: '1', 'with space': 'ü' }, key: 'pk-0' },
  { payload: Buffer.from('second message '.repeat(5)), properties: {}, key: 'pk-1' },
  { payload: Buffer.alloc(0), properties: { empty: '' }, key: null },
  { payload: Buffer.from('fourth'), properties: { n: '4' }, key: 'pk-3' },
];

async function take(stream: Readable, count: number): Promise<ConsumerMessage[]> {
  const got: ConsumerMessage[] = [];
  for await (const message of stream as AsyncIterable<ConsumerMessage>) {
    got.push(message);
    message.ack();
    if (got.length === count) break;
  }
  return got;
}

describe.skipIf(!externalTarget || serviceUrl === '' || keysDir === '')(
  'real Pulsar only: encryption interop with Python pulsar-client',
  () => {
    const keys = testCryptoKeys();
    const publicPath = join(keys.clientsDir, `public-key.${CLIENT_KEY}`);
    const privatePath = join(keys.clientsDir, `private-key.${CLIENT_KEY}`);

    it.each(['ZLIB', 'LZ4'] as const)(
      'decrypts a Python batched %s encrypted batch into its messages with their keys and properties',
      async (compression: CompressionType) => {
        const topic = uniqueTopic(`py-enc-${compression.toLowerCase()}`);
        const input = messages
          .map((m) =>
            JSON.stringify({ payload: m.payload.toString('base64'), properties: m.properties, key: m.key }),
          )
          .join('\n');
        const [report] = await runPythonPeer(
          PEER,
          [
            'produce',
            serviceUrl,
            `persistent://public/default/${topic}`,
            CLIENT_KEY,
            publicPath,
            privatePath,
            compression,
          ],
          input,
        );
        expect(report).toEqual({ sent: messages.length, results: ['ok'] });
        const client = new PulsarWsClient({ url: target.wsUrl });
        clients.push(client);
        const raw = await take(
          client.consumer(topic, 'raw', {
            subscriptionInitialPosition: 'Earliest',
            cryptoFailureAction: 'CONSUME',
          }),
          1,
        );
        // The proxy cannot decrypt (no private key for ws-client): the whole batch is one message.
        expect(raw[0]?.encryptionContext?.batchSize).toBe(messages.length);
        expect(raw[0]?.encryptionContext?.compressionType).toBe(compression);
        const got = await take(
          client.consumer(topic, 'plain', {
            subscriptionInitialPosition: 'Earliest',
            decryption: { privateKeys: { [CLIENT_KEY]: keys.privatePem(CLIENT_KEY) } },
          }),
          messages.length,
        );
        expect(got.map((m) => [m.payload.toString('base64'), m.properties, m.key ?? null])).toEqual(
          messages.map((m) => [m.payload.toString('base64'), m.properties, m.key]),
        );
      },
    );

    it.each(['NONE', 'ZLIB', 'LZ4'] as const)(
      'Python decrypts what the producer `encryption` option (%s) sent',
      async (compression: CompressionType) => {
        const topic = uniqueTopic(`ws-enc-py-${compression.toLowerCase()}`);
        const client = new PulsarWsClient({ url: target.wsUrl });
        clients.push(client);
        await pipeline(
          Readable.from(
            messages.map((m) => ({
              payload: m.payload,
              properties: m.properties,
              ...(m.key === null ? {} : { key: m.key }),
            })),
          ),
          client.producer(topic, {
            encryption: { keys: { [CLIENT_KEY]: keys.publicPem(CLIENT_KEY) }, compression },
          }),
        );
        const received = (await runPythonPeer(PEER, [
          'consume',
          serviceUrl,
          `persistent://public/default/${topic}`,
          String(messages.length),
          publicPath,
          privatePath,
        ])) as { payload: string; properties: Record<string, string>; key: string | null }[];
        expect(received.map((m) => [m.payload, m.properties, m.key])).toEqual(
          messages.map((m) => [m.payload.toString('base64'), m.properties, m.key]),
        );
      },
    );
  },
);

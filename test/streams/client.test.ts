/**
 * PulsarWsClient end to end: producer, consumer and reader streams, option validation, ack modes and
 * ack-after-write through transforms. Runs against the embedded broker, or real Pulsar when
 * PULSAR_WS_URL is set.
 */
import { Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import chain from 'stream-chain';
import { many } from 'stream-chain/defs.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ackable,
  ackableBatch,
  ackableTransform,
  ackingSink,
  InvalidArgumentError,
  PulsarWsClient,
  type ConsumerMessage,
  type ProducerAckEvent,
} from '../../src/index.js';
import { publishAll, range } from '../helpers/publish.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const clients: PulsarWsClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

function newClient(): PulsarWsClient {
  const client = new PulsarWsClient({ url: target.wsUrl, reconnect: { maxDelayMs: 1000 } });
  clients.push(client);
  return client;
}

/** Reads `count` messages (acking with `ack`) and returns their payloads. */
async function take(stream: AsyncIterable<ConsumerMessage>, count: number, ack = true): Promise<string[]> {
  const payloads: string[] = [];
  if (count === 0) return payloads;
  for await (const message of stream) {
    payloads.push(message.payload.toString());
    if (ack) message.ack();
    if (payloads.length === count) break;
  }
  return payloads;
}

/** A Writable collecting strings, failing on the `failAt`-th write when given. */
function collector(
  failAt?: number,
  onWritten?: (count: number) => void,
): { sink: Writable; written: string[] } {
  const written: string[] = [];
  const sink = new Writable({
    objectMode: true,
    write(chunk: unknown, _encoding, callback) {
      if (written.length === failAt) {
        callback(new Error(`sink failed at write ${failAt}`));
        return;
      }
      written.push(String(chunk));
      setImmediate(() => {
        callback();
        onWritten?.(written.length);
      });
    },
  });
  return { sink, written };
}

const earliestShared = { subscriptionInitialPosition: 'Earliest', subscriptionType: 'Shared' } as const;

describe('PulsarWsClient', () => {
  it('short topic names; producer acks carry ids; consumer gets payload, key, properties, eventTime', async () => {
    const client = newClient();
    const topic = uniqueTopic('client');
    const acks: ProducerAckEvent[] = [];
    const producer = client.producer(topic, { onAck: (event) => acks.push(event) });
    const eventTime = new Date('2026-01-02T03:04:05.678Z');
    await pipeline(
      Readable.from([
        'plain',
        Buffer.from('bytes'),
        { payload: 'object', key: 'k', properties: { a: '1' }, eventTime },
      ]),
      producer,
    );
    expect(acks).toHaveLength(3);
    const consumer = client.consumer(`persistent://public/default/${topic}`, 's', earliestShared);
    const messages: ConsumerMessage[] = [];
    for await (const message of consumer) {
      messages.push(message);
      message.ack();
      if (messages.length === 3) break;
    }
    expect(messages.map((m) => m.payload.toString())).toEqual(['plain', 'bytes', 'object']);
    expect(messages.map((m) => m.messageId)).toEqual(acks.map((a) => a.messageId));
    expect(messages[2]).toMatchObject({ key: 'k', properties: { a: '1' }, eventTime });
  });

  it('refuses bad options before connecting, naming the option', () => {
    const client = newClient();
    const expectInvalid = (make: () => unknown, text: RegExp) => {
      let error: unknown;
      try {
        make();
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(text);
    };
    expectInvalid(() => new PulsarWsClient({ url: 'http://x' }), /ws:\/\/ or wss:\/\//);
    expectInvalid(() => client.producer('a/b/c/d/e/f'), /invalid topic/);
    expectInvalid(
      () => client.consumer('t', 's', { subscriptionType: 'Bogus' as 'Shared' }),
      /Invalid subscriptionType Bogus/,
    );
    expectInvalid(() => client.consumer('t', 's', { ackTimeoutMillis: 500 }), /Ack timeout/);
    expectInvalid(() => client.consumer('t', ''), /subscription/);
    expectInvalid(() => client.consumer('t', 's', { highWaterMark: 0 }), /highWaterMark/);
    expectInvalid(() => client.consumer('t', 's', { ackMode: 'never' as 'manual' }), /ackMode/);
    expectInvalid(() => client.producer('t', { hashingScheme: 'Nope' as 'JavaStringHash' }), /hashingScheme/);
    expectInvalid(() => client.producer('t', { maxInFlight: 0 }), /maxInFlight/);
    expectInvalid(() => client.producer('t', { effectivelyOnce: true }), /producerName/);
    expectInvalid(() => client.reader('t', { startMessageId: 'not-an-id!' }), /startMessageId/);
    expectInvalid(() => client.reader('t', { highWaterMark: 5000 }), /highWaterMark/);
    expectInvalid(
      () => client.consumer('t', 's', { subscriptionTyp: 'Shared' } as object),
      /unknown consumer option `subscriptionTyp`/,
    );
    expectInvalid(() => client.consumer('t', 's', { pullMode: false } as object), /always run in pull mode/);
    expectInvalid(() => client.reader('t', { messageId: 'earliest' } as object), /use `startMessageId`/);
  });

  it('reader: from earliest, stopAtEnd ends after the last message as of the start', async () => {
    const client = newClient();
    const topic = uniqueTopic('reader');
    const published = await publishAll(target, topic, range(25));
    const all = await Readable.from(
      client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true, highWaterMark: 4 }),
    ).toArray();
    expect(all.map((m: ConsumerMessage) => m.payload.toString())).toEqual(range(25));
    const fromTenth = await client
      .reader(topic, { startMessageId: published[9]?.messageId, stopAtEnd: true })
      .toArray();
    expect(fromTenth.map((m: ConsumerMessage) => m.payload.toString())).toEqual(range(25).slice(10));
    expect(await client.reader(topic, { startMessageId: 'latest', stopAtEnd: true }).toArray()).toEqual([]);
    const empty = uniqueTopic('reader-empty');
    await publishAll(target, empty, []);
    await fetch(`${target.adminUrl}/admin/v2/persistent/public/default/${empty}`, { method: 'PUT' });
    expect(await client.reader(empty, { startMessageId: 'earliest', stopAtEnd: true }).toArray()).toEqual([]);
  });

  it('reader without stopAtEnd follows the topic; flow control keeps it within its window', async () => {
    const client = newClient();
    const topic = uniqueTopic('reader-follow');
    await publishAll(target, topic, range(30));
    const reader = client.reader(topic, { startMessageId: 'earliest', highWaterMark: 5 });
    expect(await take(reader, 30)).toEqual(range(30));
  });

  it('ack-after-write: a sink failure acknowledges nothing it did not write; the rest comes again', async () => {
    const client = newClient();
    const topic = uniqueTopic('after-write');
    await publishAll(target, topic, range(20));
    const { sink, written } = collector(12);
    await expect(
      pipeline(
        client.consumer(topic, 's', { ...earliestShared, highWaterMark: 5 }),
        ackableTransform((m: ConsumerMessage) => m.payload.toString()),
        ackingSink(sink),
      ),
    ).rejects.toThrow(/sink failed at write 12/);
    expect(written).toEqual(range(12));
    const again = await take(client.consumer(topic, 's', earliestShared), 8);
    expect(again.sort()).toEqual(range(20).slice(12).sort());
  });

  it('1→n and n→1 transforms ack each source once all its outputs are written', async () => {
    const client = newClient();
    const topic = uniqueTopic('fan');
    await publishAll(target, topic, ['a b c', '', 'd', 'e f']);
    // The consumer never ends by itself: stop the pipeline once the 6 words (3 pairs) are written.
    const stop = new AbortController();
    const { sink, written } = collector(undefined, (count) => {
      if (count === 3) setImmediate(() => stop.abort());
    });
    let seen = 0;
    await expect(
      pipeline(
        client.consumer(topic, 's', earliestShared),
        chain([
          ackable((m: ConsumerMessage) => {
            seen += 1;
            return many(m.payload.toString().split(' ').filter(Boolean));
          }),
          ackableBatch<string>(2),
          ackable((words: string[]) => words.join('+')),
          // stream-chain's typed duplex reads Tracked values; @types/node's pipeline wants a Duplex.
        ]) as Duplex,
        ackingSink(sink),
        { signal: stop.signal },
      ),
    ).rejects.toThrow(/aborted/);
    expect(seen).toBe(4);
    expect(written).toEqual(['a+b', 'c+d', 'e+f']);
    // Everything was written, so everything was acknowledged: nothing comes again.
    await publishAll(target, topic, ['next']);
    expect(await take(client.consumer(topic, 's', earliestShared), 1)).toEqual(['next']);
  });

  it('consumer → producer bridge acks each message once the target topic stored it', async () => {
    const client = newClient();
    const source = uniqueTopic('bridge-in');
    const sinkTopic = uniqueTopic('bridge-out');
    await publishAll(target, source, range(15));
    const reader = client.reader(sinkTopic, { startMessageId: 'earliest' });
    const copied = take(reader, 15);
    const producer = client.producer(sinkTopic);
    const consumer = client.consumer(source, 's', earliestShared);
    let forwarded = 0;
    await pipeline(
      consumer,
      async function* (messages: AsyncIterable<ConsumerMessage>) {
        for await (const message of messages) {
          yield message;
          if (++forwarded === 15) return;
        }
      },
      producer,
    );
    expect(await copied).toEqual(range(15));
    await publishAll(target, source, ['next']);
    expect(await take(client.consumer(source, 's', earliestShared), 1)).toEqual(['next']);
  });

  it('ackMode on-read acknowledges as messages are read; manual leaves them to the caller', async () => {
    const client = newClient();
    const topic = uniqueTopic('modes');
    await publishAll(target, topic, range(6));
    expect(
      await take(client.consumer(topic, 'r', { ...earliestShared, ackMode: 'on-read' }), 6, false),
    ).toEqual(range(6));
    await publishAll(target, topic, ['next']);
    expect(await take(client.consumer(topic, 'r', earliestShared), 1)).toEqual(['next']);
    expect(
      await take(
        client.consumer(topic, 'm', { ...earliestShared, ackMode: 'manual', closeGraceMs: 0 }),
        7,
        false,
      ),
    ).toEqual([...range(6), 'next']);
    expect((await take(client.consumer(topic, 'm', earliestShared), 7)).sort()).toEqual(
      [...range(6), 'next'].sort(),
    );
  });
});

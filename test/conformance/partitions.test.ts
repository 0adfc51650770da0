/**
 * Partitioned topics (docs/protocol.md §1.2; §14 scenarios 3 and 12): producers on the base name route by key
 * hash (JavaStringHash, Murmur3_32Hash) or round robin, ids carry the partition, consumers and readers
 * on the base name get every partition, single partitions are ordinary topics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeMessageId,
  encodeMessageId,
  messageIdOf,
  type DeliveredMessage,
} from '../../src/protocol/index.js';
import { javaStringHash } from '../../src/broker/topics/partition-router.js';
import { murmur3 } from '../../src/broker/topics/key-hash.js';
import { publishAll, range } from '../helpers/publish.js';
import { consumerUrl, producerUrl, readerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { base64, fromBase64, HandshakeRefusedError, SocketPool, TestSocket } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

const PARTITIONS = 3;
const admin = (topic: string) => `${target.adminUrl}/admin/v2/persistent/public/default/${topic}`;

async function partitionedTopic(): Promise<string> {
  const topic = uniqueTopic('part');
  const response = await fetch(`${admin(topic)}/partitions`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: String(PARTITIONS),
  });
  expect(response.status).toBe(204);
  expect(await (await fetch(`${admin(topic)}/partitions`)).json()).toMatchObject({ partitions: PARTITIONS });
  return topic;
}

const mod = (hash: number) => ((hash % PARTITIONS) + PARTITIONS) % PARTITIONS;

describe('partitioned topics', () => {
  it('scenario 12: 100 messages produced on the base name are all consumed from it, ids carry the partition', async () => {
    const topic = await partitionedTopic();
    const published = await publishAll(target, topic, range(100), { key: (i) => `k${i}` });
    const partitions = new Set(published.map((p) => decodeMessageId(p.messageId).partition));
    expect([...partitions].sort()).toEqual([0, 1, 2]);
    const consumer = await pool.open(
      consumerUrl(target, topic, 'sub', '?subscriptionInitialPosition=Earliest'),
    );
    const received = await consumer.take<DeliveredMessage>(100);
    for (const message of received) consumer.send({ messageId: message.messageId });
    expect(received.map((m) => m.messageId).sort()).toEqual(published.map((p) => p.messageId).sort());
    expect(received.map((m) => fromBase64(m.payload)).sort()).toEqual(range(100).sort());
  });

  it('keys route with JavaStringHash by default and with Murmur3_32Hash on request', async () => {
    for (const [scheme, hash] of [
      ['JavaStringHash', (key: string) => javaStringHash(key) & 0x7fffffff],
      ['Murmur3_32Hash', (key: string) => murmur3(key) & 0x7fffffff],
    ] as const) {
      const topic = await partitionedTopic();
      const producer = await pool.open(producerUrl(target, topic, `?hashingScheme=${scheme}`));
      for (let i = 0; i < 12; i++) {
        const key = `key-${i}-é`;
        producer.send({ payload: base64('x'), key, context: key });
        const ack = await producer.next<{ messageId: string; context: string }>();
        expect(decodeMessageId(ack.messageId).partition).toBe(mod(hash(key)));
      }
    }
  });

  it('RoundRobinPartition spreads messages without keys over the partitions', async () => {
    const topic = await partitionedTopic();
    const producer = await pool.open(producerUrl(target, topic, '?messageRoutingMode=RoundRobinPartition'));
    const seen = new Set<number>();
    for (let i = 0; i < 9; i++) {
      producer.send({ payload: base64('x'), context: String(i) });
      seen.add(decodeMessageId((await producer.next<{ messageId: string }>()).messageId).partition);
    }
    expect(seen.size).toBe(PARTITIONS);
  });

  it('a reader on the base name reads every partition; a partition is an ordinary topic too', async () => {
    const topic = await partitionedTopic();
    const direct = await pool.open(producerUrl(target, `${topic}-partition-1`));
    direct.send({ payload: base64('direct'), context: 'd' });
    await direct.next();
    await publishAll(target, topic, range(5), { key: (i) => `k${i}` });
    const reader = await pool.open(readerUrl(target, topic, '?messageId=earliest'));
    const read: DeliveredMessage[] = [];
    while (read.length < 6) {
      const message = await reader.next<DeliveredMessage>();
      read.push(message);
      reader.send({ messageId: message.messageId });
    }
    expect(read.map((m) => fromBase64(m.payload)).sort()).toEqual(['direct', ...range(5)].sort());
    expect(await reader.drain()).toEqual([]);
  });

  it('a reader on the base name from latest reads what every partition gets afterwards', async () => {
    const topic = await partitionedTopic();
    await publishAll(target, topic, range(3), { key: (i) => `k${i}` });
    const reader = await pool.open(readerUrl(target, topic, '?messageId=latest'));
    const published = await publishAll(target, topic, range(9), { key: (i) => `k${i}` });
    const read = await reader.take<DeliveredMessage>(9);
    expect(read.map((m) => m.messageId).sort()).toEqual(published.map((p) => p.messageId).sort());
    expect(new Set(read.map((m) => decodeMessageId(m.messageId).partition)).size).toBe(PARTITIONS);
  });

  it('a reader on the base name refuses a message id (500), even one of its own partitions', async () => {
    const topic = await partitionedTopic();
    const [published] = await publishAll(target, topic, ['x'], { key: () => 'k' });
    expect(decodeMessageId(published?.messageId ?? '').partition).toBeGreaterThanOrEqual(0);
    for (const id of [published?.messageId ?? '', encodeMessageId(messageIdOf(1, 0))]) {
      const refused = await TestSocket.open(
        readerUrl(target, topic, `?messageId=${encodeURIComponent(id)}`),
      ).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(HandshakeRefusedError);
      expect((refused as HandshakeRefusedError).status).toBe(500);
      expect((refused as HandshakeRefusedError).body).toMatch(
        /The partitioned topic startMessageId is illegal/,
      );
    }
  });

  it("a message id equal to Pulsar's earliest (-1:-1) is earliest, on a partitioned topic too", async () => {
    const topic = await partitionedTopic();
    await publishAll(target, topic, range(6), { key: (i) => `k${i}` });
    const earliest = encodeURIComponent(encodeMessageId(messageIdOf(-1, -1)));
    const reader = await pool.open(readerUrl(target, topic, `?messageId=${earliest}`));
    const read = await reader.take<DeliveredMessage>(6);
    for (const message of read) reader.send({ messageId: message.messageId });
    expect(read.map((m) => fromBase64(m.payload)).sort()).toEqual(range(6).sort());
  });

  it('a reader of one partition by its own name delivers ids naming the partition, and starts from them', async () => {
    const topic = await partitionedTopic();
    await publishAll(target, `${topic}-partition-1`, range(4));
    const reader = await pool.open(readerUrl(target, `${topic}-partition-1`, '?messageId=earliest'));
    const read = await reader.take<DeliveredMessage>(4);
    for (const message of read) reader.send({ messageId: message.messageId });
    expect(read.map((m) => decodeMessageId(m.messageId).partition)).toEqual([1, 1, 1, 1]);
    const start = encodeURIComponent(read[1]?.messageId ?? '');
    const resumed = await pool.open(readerUrl(target, `${topic}-partition-1`, `?messageId=${start}`));
    expect((await resumed.take<DeliveredMessage>(2)).map((m) => fromBase64(m.payload))).toEqual(['m2', 'm3']);
    const last = (await (await fetch(`${admin(`${topic}-partition-1`)}/lastMessageId`)).json()) as {
      partitionIndex: number;
    };
    expect(last.partitionIndex).toBe(1);
  });

  it('a consumer of one partition by its own name gets ids naming it; a consumer of several topics does not', async () => {
    const topic = await partitionedTopic();
    const partition = `persistent://public/default/${topic}-partition-2`;
    const other = `persistent://public/default/${uniqueTopic('other')}`;
    const v2 = await pool.open(
      consumerUrl(target, `${topic}-partition-2`, 'own', '?subscriptionInitialPosition=Earliest'),
    );
    const v3 = (topics: string[], subscription: string) =>
      pool.open(
        `${target.wsUrl}/ws/v3/consumer/${subscription}?topics=${encodeURIComponent(topics.join(','))}&subscriptionInitialPosition=Earliest`,
      );
    const single = await v3([partition], 'single');
    const several = await v3([partition, other], 'several');
    const [acked] = await publishAll(target, `${topic}-partition-2`, ['x']);
    expect(decodeMessageId(acked?.messageId ?? '').partition).toBe(-1);
    for (const [consumer, expected] of [
      [v2, 2],
      [single, 2],
      [several, -1],
    ] as const) {
      const [delivered] = await consumer.take<DeliveredMessage>(1);
      consumer.send({ messageId: delivered?.messageId });
      expect(decodeMessageId(delivered?.messageId ?? '').partition).toBe(expected);
    }
  });

  it('scenario 3: unsubscribe on a partitioned topic removes the subscription from every partition', async () => {
    const topic = await partitionedTopic();
    const consumer = await pool.open(
      consumerUrl(target, topic, 'gone', '?subscriptionInitialPosition=Earliest'),
    );
    await publishAll(target, topic, range(3), { key: (i) => `k${i}` });
    await consumer.take(3);
    consumer.send({ type: 'unsubscribe' });
    for (let partition = 0; partition < PARTITIONS; partition++) {
      let subscriptions: Record<string, unknown> = { gone: {} };
      for (let attempt = 0; attempt < 20 && 'gone' in subscriptions; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 250));
        const stats = (await (await fetch(`${admin(`${topic}-partition-${partition}`)}/stats`)).json()) as {
          subscriptions: Record<string, unknown>;
        };
        subscriptions = stats.subscriptions;
      }
      expect(subscriptions).not.toHaveProperty('gone');
    }
  });

  it('creating the same partitioned topic twice is a 409', async () => {
    const topic = await partitionedTopic();
    const again = await fetch(`${admin(topic)}/partitions`, { method: 'PUT', body: '2' });
    expect(again.status).toBe(409);
  });
});

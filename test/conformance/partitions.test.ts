/**
 * Partitioned topics (docs/protocol.md §1.2; §14 scenarios 3 and 12): producers on the base name route by key
 * hash (JavaStringHash, Murmur3_32Hash) or round robin, ids carry the partition, consumers and readers
 * on the base name get every partition, single partitions are ordinary topics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessageId, type DeliveredMessage } from '../../src/protocol/index.js';
import { javaStringHash } from '../../src/broker/topics/partition-router.js';
import { murmur3 } from '../../src/broker/topics/key-hash.js';
import { publishAll, range } from '../helpers/publish.js';
import { consumerUrl, producerUrl, readerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { base64, fromBase64, SocketPool } from '../helpers/ws-client.js';

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

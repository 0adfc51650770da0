/**
 * Which Failover consumer is active, as Pulsar 4.0.7 picks it: on a non-partitioned topic the
 * consumer found on a hash ring of consumer names at the topic name's hash (not simply the first
 * name), on a partitioned topic `consumers[partition % n]` of the consumers sorted by priority and
 * name; consumers of a lower priority (higher level) only when no higher one is connected. The
 * expected consumer is computed with the ring the embedded broker uses, so on Pulsar this checks
 * the ring itself.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { failoverActive } from '../../src/broker/topics/failover.js';
import { decodeMessageId, type DeliveredMessage } from '../../src/protocol/index.js';
import { publishAll, range } from '../helpers/publish.js';
import { consumerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { fromBase64, SocketPool, type TestSocket } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

function failoverConsumer(topic: string, name: string, extra = ''): Promise<TestSocket> {
  return pool.open(
    consumerUrl(
      target,
      topic,
      'sub',
      `?subscriptionType=Failover&subscriptionInitialPosition=Earliest&consumerName=${name}${extra}`,
    ),
  );
}

/** A topic name whose hash-ring owner among `names` is `wanted`. */
function topicOwnedBy(names: readonly string[], wanted: string, domain = 'persistent'): string {
  const consumers = names.map((name) => ({ name, priorityLevel: 0 }));
  for (;;) {
    const topic = uniqueTopic('failover');
    if (failoverActive(consumers, `${domain}://public/default/${topic}`, -1)?.name === wanted) return topic;
  }
}

async function receiveAll(socket: TestSocket, count: number): Promise<DeliveredMessage[]> {
  const messages = await socket.take<DeliveredMessage>(count);
  for (const message of messages) socket.send({ messageId: message.messageId });
  return messages;
}

describe('Failover active consumer (Pulsar 4.0.7)', () => {
  it('non-partitioned: the hash ring picks the active consumer, not the first name', async () => {
    const names = ['ring-a', 'ring-b', 'ring-c'];
    const topic = topicOwnedBy(names, 'ring-b');
    const sockets = new Map<string, TestSocket>();
    for (const name of names) sockets.set(name, await failoverConsumer(topic, name));
    await publishAll(target, topic, range(10));
    const active = sockets.get('ring-b');
    if (active === undefined) throw new Error('no ring-b consumer');
    expect((await receiveAll(active, 10)).map((message) => fromBase64(message.payload))).toEqual(range(10));
    for (const name of ['ring-a', 'ring-c']) expect(await sockets.get(name)?.drain()).toEqual([]);
  });

  it('non-persistent: no hash ring, the first name is active whatever the joining order', async () => {
    const names = ['np-c', 'np-b', 'np-a'];
    // A topic whose ring owner is another one, so the test tells the two rules apart.
    const topic = topicOwnedBy(names, 'np-b', 'non-persistent');
    const base = `${target.wsUrl}/ws/v2`;
    const sockets = new Map<string, TestSocket>();
    for (const name of names) {
      sockets.set(
        name,
        await pool.open(
          `${base}/consumer/non-persistent/public/default/${topic}/sub?subscriptionType=Failover&consumerName=${name}`,
        ),
      );
    }
    const producer = await pool.open(`${base}/producer/non-persistent/public/default/${topic}`);
    for (const payload of range(5)) producer.send({ payload: Buffer.from(payload).toString('base64') });
    await producer.take(5);
    const active = sockets.get('np-a');
    if (active === undefined) throw new Error('no np-a consumer');
    const got = await active.take<DeliveredMessage>(5);
    expect(got.map((message) => fromBase64(message.payload))).toEqual(range(5));
    for (const name of ['np-b', 'np-c']) expect(await sockets.get(name)?.drain()).toEqual([]);
  });

  it('non-partitioned: a consumer with a lower priority is active only when no higher one is connected', async () => {
    const topic = topicOwnedBy(['prio-a', 'prio-b'], 'prio-a');
    const low = await failoverConsumer(topic, 'prio-b', '&priorityLevel=1');
    const high = await failoverConsumer(topic, 'prio-a', '&priorityLevel=0');
    await publishAll(target, topic, range(5));
    expect(await receiveAll(high, 5)).toHaveLength(5);
    expect(await low.drain()).toEqual([]);
    await high.close();
    await publishAll(target, topic, range(3, 'later-'));
    expect((await receiveAll(low, 3)).map((message) => fromBase64(message.payload))).toEqual(
      range(3, 'later-'),
    );
  });

  it('partitioned: partition i goes to consumer i % n of the consumers sorted by name', async () => {
    const topic = uniqueTopic('failover-parts');
    const created = await fetch(`${target.adminUrl}/admin/v2/persistent/public/default/${topic}/partitions`, {
      method: 'PUT',
      body: '3',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(created.status).toBe(204);
    // Joining order differs from name order: the name decides.
    const second = await failoverConsumer(topic, 'part-b');
    const first = await failoverConsumer(topic, 'part-a');
    // Keyed, so the messages spread over the partitions.
    const published = await publishAll(target, topic, range(30), { key: (index) => `key-${index}` });
    const partitionOf = (id: string): number => decodeMessageId(id).partition;
    const partitions = (ids: string[]): number[] => [...new Set(ids.map(partitionOf))].sort();
    const publishedIds = published.map((message) => message.messageId);
    const forA = publishedIds.filter((id) => partitionOf(id) % 2 === 0);
    const forB = publishedIds.filter((id) => partitionOf(id) === 1);
    expect(forA.length).toBeGreaterThan(0);
    expect(forB.length).toBeGreaterThan(0);
    const gotA = await receiveAll(first, forA.length);
    const gotB = await receiveAll(second, forB.length);
    expect(partitions(gotA.map((message) => message.messageId))).toEqual(partitions(forA));
    expect(partitions(gotB.map((message) => message.messageId))).toEqual([1]);
    expect(await second.drain()).toEqual([]);
    expect(await first.drain()).toEqual([]);
  });
});

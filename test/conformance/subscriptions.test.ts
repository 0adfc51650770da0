/**
 * Subscription types and redelivery (docs/protocol.md §4.1, §4.5; §14 scenarios 1, 2, 13, 14, 15): Failover with
 * an active consumer, Shared dispatch and replay, Key_Shared key stickiness, negative acks, ack
 * timeout, dead-letter topic, type conflicts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveredMessage } from '../../src/protocol/index.js';
import { publishAll, range } from '../helpers/publish.js';
import { consumerUrl, readerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { fromBase64, handshakeStatus, SocketPool, type TestSocket } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

type Delivered = DeliveredMessage;

function open(topic: string, subscription: string, query: string): Promise<TestSocket> {
  return pool.open(
    consumerUrl(target, topic, subscription, `?subscriptionInitialPosition=Earliest&${query}`),
  );
}

const payloads = (messages: Delivered[]): string[] => messages.map((m) => fromBase64(m.payload));

describe('Failover', () => {
  it('scenario 1: two Failover consumers, a reader and a producer see the same ids in order; both sockets stay open', async () => {
    const topic = uniqueTopic();
    const first = await open(topic, 'sub', 'subscriptionType=Failover&consumerName=a');
    const second = await open(topic, 'sub', 'subscriptionType=Failover&consumerName=b');
    const reader = await pool.open(readerUrl(target, topic, '?messageId=earliest'));
    const published = await publishAll(target, topic, range(10), { key: (i) => String(i) });
    const received: Delivered[] = [];
    while (received.length < 10) {
      for (const consumer of [first, second]) {
        for (const message of await consumer.drain(200)) {
          const delivered = JSON.parse(message) as Delivered;
          received.push(delivered);
          consumer.send({ messageId: delivered.messageId });
        }
      }
    }
    const read = await reader.take<Delivered>(10);
    expect(received.map((m) => m.messageId)).toEqual(published.map((p) => p.messageId));
    expect(read.map((m) => m.messageId)).toEqual(published.map((p) => p.messageId));
    expect(first.ws.readyState).toBe(first.ws.OPEN);
    expect(second.ws.readyState).toBe(second.ws.OPEN);
  });

  it('when the active consumer leaves, its unacknowledged messages go to the other one', async () => {
    const topic = uniqueTopic();
    const a = await open(topic, 'sub', 'subscriptionType=Failover&consumerName=a&receiverQueueSize=4');
    const b = await open(topic, 'sub', 'subscriptionType=Failover&consumerName=b&receiverQueueSize=4');
    await publishAll(target, topic, range(4));
    // Which consumer is active is the broker's choice (Pulsar hashes names on a ring); find it.
    const [active, standby] = await activeFirst(a, b);
    const got = await active.take<Delivered>(4);
    expect(payloads(got)).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(await standby.drain()).toEqual([]);
    active.send({ messageId: got[0]?.messageId });
    active.send({ type: 'isEndOfTopic' });
    await active.next();
    await active.close();
    expect(payloads(await standby.take<Delivered>(3))).toEqual(['m1', 'm2', 'm3']);
  });
});

/** Waits until one of two Failover consumers has a message; returns [active, standby]. */
async function activeFirst(a: TestSocket, b: TestSocket): Promise<[TestSocket, TestSocket]> {
  for (let waited = 0; waited < 10_000; waited += 100) {
    if (a.bufferedCount > 0) return [a, b];
    if (b.bufferedCount > 0) return [b, a];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no Failover consumer received anything within 10 s');
}

describe('Shared', () => {
  it('spreads messages over the consumers, each message to one of them', async () => {
    const topic = uniqueTopic();
    const a = await open(topic, 'sub', 'subscriptionType=Shared&receiverQueueSize=2');
    const b = await open(topic, 'sub', 'subscriptionType=Shared&receiverQueueSize=2');
    const sent = range(20);
    await publishAll(target, topic, sent);
    // Pulsar's proxy consumers prefetch (receiverQueueSize) and refill as they deliver, so how many
    // each gets depends on timing: read both, acking, until all arrived; never one message twice.
    const received = new Map<TestSocket, string[]>([
      [a, []],
      [b, []],
    ]);
    const total = () => [...received.values()].reduce((sum, list) => sum + list.length, 0);
    for (let idle = 0; total() < sent.length && idle < 100;) {
      let progressed = false;
      for (const [socket, list] of received) {
        if (socket.bufferedCount === 0) continue;
        const message = await socket.next<Delivered>();
        list.push(fromBase64(message.payload));
        socket.send({ messageId: message.messageId });
        progressed = true;
      }
      if (progressed) idle = 0;
      else {
        idle += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const all = [...(received.get(a) ?? []), ...(received.get(b) ?? [])];
    expect(all.sort()).toEqual([...sent].sort());
    expect(received.get(a)?.length).toBeGreaterThan(0);
    expect(received.get(b)?.length).toBeGreaterThan(0);
  });

  it("a closed consumer's unacknowledged messages go to another consumer, redeliveryCount unchanged", async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(4));
    const a = await open(topic, 'sub', 'subscriptionType=Shared&receiverQueueSize=1');
    const [held] = await a.take<Delivered>(1);
    const b = await open(topic, 'sub', 'subscriptionType=Shared&receiverQueueSize=10');
    await a.close();
    // B gets the rest, in an order that depends on what A's internal consumer had prefetched.
    const seen: Delivered[] = [];
    while (!seen.some((message) => message.messageId === held?.messageId) && seen.length < 4) {
      const message = await b.next<Delivered>();
      seen.push(message);
      b.send({ messageId: message.messageId });
    }
    const again = seen.find((message) => message.messageId === held?.messageId);
    expect(again?.redeliveryCount).toBe(0);
  });

  it('a negative ack redelivers the message with redeliveryCount + 1', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, ['x']);
    const consumer = await open(topic, 'sub', 'subscriptionType=Shared&negativeAckRedeliveryDelay=100');
    const first = await consumer.next<Delivered>();
    consumer.send({ type: 'negativeAcknowledge', messageId: first.messageId });
    const second = await consumer.next<Delivered>();
    expect(second.messageId).toBe(first.messageId);
    expect([first.redeliveryCount, second.redeliveryCount]).toEqual([0, 1]);
  });

  it('scenario 15: redelivery waits for negativeAckRedeliveryDelay', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, ['x']);
    const consumer = await open(topic, 'sub', 'subscriptionType=Shared&negativeAckRedeliveryDelay=3000');
    const first = await consumer.next<Delivered>();
    consumer.send({ type: 'negativeAcknowledge', messageId: first.messageId });
    expect(await consumer.drain(1500)).toEqual([]);
    expect((await consumer.next<Delivered>(10_000)).messageId).toBe(first.messageId);
  });

  it('ackTimeoutMillis redelivers an unacknowledged message with redeliveryCount + 1', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, ['x']);
    const consumer = await open(topic, 'sub', 'subscriptionType=Shared&ackTimeoutMillis=1000');
    const first = await consumer.next<Delivered>();
    const second = await consumer.next<Delivered>(10_000);
    expect(second.messageId).toBe(first.messageId);
    expect(second.redeliveryCount).toBe(1);
  });

  it('scenario 14: maxRedeliverCount=1 + nack: two deliveries, then the dead-letter topic gets it', async () => {
    const topic = uniqueTopic();
    const dlq = await pool.open(readerUrl(target, `${topic}-sub-DLQ`, '?messageId=earliest'));
    const consumer = await open(
      topic,
      'sub',
      'subscriptionType=Shared&maxRedeliverCount=1&negativeAckRedeliveryDelay=200',
    );
    const [published] = await publishAll(target, topic, ['poison'], {
      key: () => 'k',
      properties: () => ({ a: '1' }),
    });
    const counts: number[] = [];
    for (let i = 0; i < 2; i++) {
      const message = await consumer.next<Delivered>();
      counts.push(message.redeliveryCount);
      consumer.send({ type: 'negativeAcknowledge', messageId: message.messageId });
    }
    expect(counts).toEqual([0, 1]);
    const dead = await dlq.next<Delivered>();
    expect(fromBase64(dead.payload)).toBe('poison');
    expect(dead.key).toBe('k');
    expect(dead.properties).toMatchObject({
      a: '1',
      REAL_TOPIC: `persistent://public/default/${topic}`,
      REAL_SUBSCRIPTION: 'sub',
    });
    expect(dead.properties.ORIGIN_MESSAGE_ID).toMatch(/^\d+:\d+:-1$/);
    expect(await consumer.drain()).toEqual([]);
    expect(published).toBeDefined();
  });

  it('scenario 13: pull mode with two Shared consumers: exactly the permits', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(12));
    const a = await open(topic, 'sub', 'subscriptionType=Shared&pullMode=true');
    await open(topic, 'sub', 'subscriptionType=Shared&pullMode=true');
    expect(await a.drain()).toEqual([]);
    a.send({ type: 'permit', permitMessages: 3 });
    await a.take(3);
    for (let i = 0; i < 3; i++) a.send({ type: 'permit', permitMessages: 2 });
    await a.take(6);
    expect(await a.drain()).toEqual([]);
  });

  it('scenario 2 (without termination): pull mode Shared, permit 10 then 20, isEndOfTopic false', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(20));
    const consumer = await open(topic, 'sub', 'subscriptionType=Shared&pullMode=true');
    consumer.send({ type: 'permit', permitMessages: 10 });
    await consumer.take(10);
    consumer.send({ type: 'isEndOfTopic' });
    expect(await consumer.next()).toEqual({ endOfTopic: false });
    consumer.send({ type: 'permit', permitMessages: 20 });
    await consumer.take(10);
  });
});

describe('Key_Shared', () => {
  it('keeps every key on one consumer', async () => {
    const topic = uniqueTopic();
    const a = await open(topic, 'sub', 'subscriptionType=Key_Shared');
    const b = await open(topic, 'sub', 'subscriptionType=Key_Shared');
    await publishAll(target, topic, range(40), { key: (i) => `key-${i % 8}` });
    const owners = new Map<string, Set<string>>();
    let total = 0;
    while (total < 40) {
      for (const [name, consumer] of [
        ['a', a],
        ['b', b],
      ] as const) {
        for (const text of await consumer.drain(200)) {
          const message = JSON.parse(text) as Delivered;
          total++;
          consumer.send({ messageId: message.messageId });
          const key = message.key ?? '';
          owners.set(key, (owners.get(key) ?? new Set()).add(name));
        }
      }
    }
    expect(total).toBe(40);
    for (const consumers of owners.values()) expect(consumers.size).toBe(1);
  });
});

describe('Key_Shared at volume', () => {
  it('keeps keys stable across 1 000 messages and 3 consumers, losing none', async () => {
    const topic = uniqueTopic();
    const consumers = await Promise.all(
      ['a', 'b', 'c'].map((name) => open(topic, 'sub', `subscriptionType=Key_Shared&consumerName=${name}`)),
    );
    await publishAll(target, topic, range(1000), { key: (i) => `key-${i % 20}` });
    const owners = new Map<string, Set<number>>();
    const seen = new Set<string>();
    for (let rounds = 0; seen.size < 1000 && rounds < 200; rounds++) {
      for (const [index, consumer] of consumers.entries()) {
        for (const text of await consumer.drain(50)) {
          const message = JSON.parse(text) as Delivered;
          seen.add(fromBase64(message.payload));
          consumer.send({ messageId: message.messageId });
          const key = message.key ?? '';
          owners.set(key, (owners.get(key) ?? new Set()).add(index));
        }
      }
    }
    expect(seen.size).toBe(1000);
    for (const consumersOfKey of owners.values()) expect(consumersOfKey.size).toBe(1);
  });
});

describe('subscription type conflicts', () => {
  it('a consumer of another type than the connected ones is refused with 409', async () => {
    const topic = uniqueTopic();
    await open(topic, 'sub', 'subscriptionType=Shared');
    expect(await handshakeStatus(consumerUrl(target, topic, 'sub', '?subscriptionType=Exclusive'))).toBe(409);
    expect(await handshakeStatus(consumerUrl(target, topic, 'sub', '?subscriptionType=Failover'))).toBe(409);
  });

  it('a second Shared consumer is welcome', async () => {
    const topic = uniqueTopic();
    await open(topic, 'sub', 'subscriptionType=Shared');
    expect(await handshakeStatus(consumerUrl(target, topic, 'sub', '?subscriptionType=Shared'))).toBe(101);
  });
});

describe('delayed delivery', () => {
  it('Shared subscriptions hold a deliverAfterMs message until its time; others pass it on', async () => {
    const topic = uniqueTopic();
    const shared = await open(topic, 'shared', 'subscriptionType=Shared');
    const exclusive = await open(topic, 'exclusive', 'subscriptionType=Exclusive');
    const producer = await pool.open(`${target.wsUrl}/ws/v2/producer/persistent/public/default/${topic}`);
    producer.send({ payload: Buffer.from('later').toString('base64'), deliverAfterMs: 2500, context: 'l' });
    producer.send({ payload: Buffer.from('now').toString('base64'), context: 'n' });
    await producer.take(2);
    expect(payloads(await exclusive.take<Delivered>(2))).toEqual(['later', 'now']);
    const [first] = await shared.take<Delivered>(1);
    expect(fromBase64(first?.payload ?? '')).toBe('now');
    expect(await shared.drain(1000)).toEqual([]);
    const [delayed] = await shared.take<Delivered>(1, 10_000);
    expect(fromBase64(delayed?.payload ?? '')).toBe('later');
  });

  it('deliverAt (epoch ms) works the same way', async () => {
    const topic = uniqueTopic();
    const shared = await open(topic, 'shared', 'subscriptionType=Shared');
    const producer = await pool.open(`${target.wsUrl}/ws/v2/producer/persistent/public/default/${topic}`);
    producer.send({
      payload: Buffer.from('at').toString('base64'),
      deliverAt: Date.now() + 2000,
      context: 'a',
    });
    await producer.take(1);
    expect(await shared.drain(800)).toEqual([]);
    expect(fromBase64((await shared.next<Delivered>(10_000)).payload)).toBe('at');
  });
});

describe('NonDurable subscriptions', () => {
  it('exist while consumers are connected, keep no acks, and start over at their initial position', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(3));
    const first = await open(topic, 'nd', 'subscriptionMode=NonDurable');
    const got = await first.take<Delivered>(3);
    for (const message of got) first.send({ messageId: message.messageId });
    const stats = async () =>
      (
        (await (
          await fetch(`${target.adminUrl}/admin/v2/persistent/public/default/${topic}/stats`)
        ).json()) as {
          subscriptions: Record<string, { isDurable?: boolean }>;
        }
      ).subscriptions;
    expect((await stats()).nd?.isDurable).toBe(false);
    expect(await handshakeStatus(consumerUrl(target, topic, 'nd', '?subscriptionMode=NonDurable'))).toBe(409);
    await first.close();
    let subscriptions = await stats();
    for (let attempt = 0; attempt < 20 && 'nd' in subscriptions; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      subscriptions = await stats();
    }
    expect(subscriptions).not.toHaveProperty('nd');
    const again = await open(topic, 'nd', 'subscriptionMode=NonDurable');
    expect(payloads(await again.take<Delivered>(3))).toEqual(['m0', 'm1', 'm2']);
  });
});

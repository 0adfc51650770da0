/**
 * Multi-topic consumer streams: a list of topics (one of them partitioned) and a pattern (with topics
 * created later picked up by re-discovery), each message carrying its topic, acknowledged after it is
 * read; a failing session fails the stream naming its topic. Embedded broker, or real Pulsar
 * (PULSAR_WS_URL).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  baseTopicOf,
  InvalidArgumentError,
  MultiTopicConsumerStream,
  PulsarWsClient,
  type ConsumerMessage,
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

const full = (topic: string): string => `persistent://public/default/${topic}`;

async function createPartitioned(topic: string, partitions: number): Promise<void> {
  const response = await fetch(`${target.adminUrl}/admin/v2/persistent/public/default/${topic}/partitions`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: String(partitions),
  });
  expect(response.status).toBe(204);
}

const iterators = new WeakMap<object, AsyncIterator<ConsumerMessage>>();

/** Reads the next `count` messages from `stream`, acknowledging each; the stream stays open. */
async function take(stream: AsyncIterable<ConsumerMessage>, count: number): Promise<ConsumerMessage[]> {
  const iterator = iterators.get(stream) ?? stream[Symbol.asyncIterator]();
  iterators.set(stream, iterator);
  const messages: ConsumerMessage[] = [];
  while (messages.length < count) {
    const next = await iterator.next();
    if (next.done === true) throw new Error(`the stream ended after ${messages.length} of ${count} messages`);
    messages.push(next.value);
    next.value.ack();
  }
  return messages;
}

describe('consumer of several topics', () => {
  it('merges three topics (one partitioned): every message once, each with its topic, each partition in order', async () => {
    const [a, b, p] = [uniqueTopic('multi-a'), uniqueTopic('multi-b'), uniqueTopic('multi-p')];
    await createPartitioned(p, 3);
    await publishAll(target, a, range(50, 'a'));
    await publishAll(target, b, range(50, 'b'));
    // Keyed, so the messages spread over the partitions.
    await publishAll(target, p, range(90, 'p'), { key: (index) => `key-${index % 10}` });
    const stream = newClient().consumer([a, b, p], 's', {
      subscriptionInitialPosition: 'Earliest',
      highWaterMark: 30,
    });
    expect(stream).toBeInstanceOf(MultiTopicConsumerStream);
    const messages = await take(stream, 190);
    const payloads = messages.map((message) => message.payload.toString());
    expect(new Set(payloads).size).toBe(190);
    expect(payloads.filter((text) => text.startsWith('a'))).toEqual(range(50, 'a'));
    expect(payloads.filter((text) => text.startsWith('b'))).toEqual(range(50, 'b'));
    const topicOf = new Map(messages.map((message) => [message.payload.toString(), message.topic]));
    expect(topicOf.get('a0')).toBe(full(a));
    expect(topicOf.get('b7')).toBe(full(b));
    const partitions = new Set(
      messages.filter((m) => m.payload.toString().startsWith('p')).map((m) => m.topic),
    );
    expect([...partitions].sort()).toEqual([0, 1, 2].map((i) => `${full(p)}-partition-${i}`));
    for (const partition of partitions) {
      expect(baseTopicOf(partition ?? '')).toBe(full(p));
      // Within a partition, the publish order.
      const inPartition = messages
        .filter((m) => m.topic === partition)
        .map((m) => Number(m.payload.toString().slice(1)));
      expect(inPartition).toEqual([...inPartition].sort((x, y) => x - y));
    }
  });

  it('acknowledges on each topic: the subscription, opened again, has nothing left', async () => {
    const [a, b] = [uniqueTopic('multi-ack-a'), uniqueTopic('multi-ack-b')];
    await publishAll(target, a, range(5, 'a'));
    await publishAll(target, b, range(5, 'b'));
    const client = newClient();
    const first = client.consumer([a, b], 's', { subscriptionInitialPosition: 'Earliest' });
    expect(await take(first, 10)).toHaveLength(10);
    first.destroy();
    await new Promise((resolve) => first.once('close', resolve));
    await publishAll(target, b, ['after']);
    const again = client.consumer([a, b], 's', { subscriptionInitialPosition: 'Earliest' });
    const [next] = await take(again, 1);
    expect(next?.payload.toString()).toBe('after');
    expect(next?.topic).toBe(full(b));
  });

  it('a single topic: messages carry the topic (a partition of a partitioned topic)', async () => {
    const p = uniqueTopic('single-p');
    await createPartitioned(p, 2);
    await publishAll(target, p, range(4));
    const messages = await take(newClient().consumer(p, 's', { subscriptionInitialPosition: 'Earliest' }), 4);
    for (const message of messages) expect(message.topic).toMatch(new RegExp(`^${full(p)}-partition-[01]$`));
  });

  it('a session that fails fails the stream, naming its topic', async () => {
    const a = uniqueTopic('multi-fail');
    const missing = `public/no-such-namespace-${a}/${a}`;
    const stream = newClient().consumer([a, missing], 's');
    const error = await new Promise<Error>((resolve) => stream.once('error', resolve));
    expect(error.message).toContain(`no-such-namespace-${a}`);
    expect(stream.destroyed).toBe(true);
  });

  it('refuses bad selections, naming them', () => {
    const client = newClient();
    expect(() => client.consumer([], 's')).toThrow(InvalidArgumentError);
    expect(() => client.consumer(['a', 'persistent://public/default/a'], 's')).toThrow(/listed twice/);
    expect(() => client.consumer({ topicsPattern: 'persistent://public/default/(' }, 's')).toThrow(
      /invalid topicsPattern "persistent:\/\/public\/default\/\(": /,
    );
    expect(() => client.consumer({ topicsPattern: 'non-persistent://public/default/x.*' }, 's')).toThrow(
      /persistent topics only/,
    );
    expect(() =>
      client.consumer({ topicsPattern: 'x.*' }, 's', { patternAutoDiscoveryPeriodMs: -1 }),
    ).toThrow(InvalidArgumentError);
  });
});

describe('consumer of a pattern', () => {
  it('consumes the matching topics (a partitioned one too), and picks up a topic created later', async () => {
    const prefix = uniqueTopic('pattern');
    const [a, p, later, other] = [`${prefix}-a`, `${prefix}-p`, `${prefix}-later`, `${prefix}x-other`];
    await createPartitioned(p, 2);
    await publishAll(target, a, range(10, 'a'));
    await publishAll(target, p, range(10, 'p'));
    await publishAll(target, other, range(3, 'other'));
    const stream = newClient().consumer({ topicsPattern: `persistent://public/default/${prefix}-.*` }, 's', {
      subscriptionInitialPosition: 'Earliest',
      patternAutoDiscoveryPeriodMs: 300,
    });
    const first = await take(stream, 20);
    expect(first.map((m) => m.payload.toString()).sort()).toEqual(
      [...range(10, 'a'), ...range(10, 'p')].sort(),
    );
    expect(stream.topics.sort()).toEqual([full(a), full(p)]);
    await publishAll(target, later, range(5, 'later'));
    const more = await take(stream, 5);
    expect(more.map((m) => m.payload.toString())).toEqual(range(5, 'later'));
    expect(more[0]?.topic).toBe(full(later));
    stream.destroy();
  });

  it('a pattern of a namespace that does not exist fails the stream', async () => {
    const stream = newClient().consumer({ topicsPattern: `public/no-such-${uniqueTopic()}/x.*` }, 's');
    const error = await new Promise<Error>((resolve) => stream.once('error', resolve));
    expect(error.message).toMatch(/404|does not exist/i);
  });
});

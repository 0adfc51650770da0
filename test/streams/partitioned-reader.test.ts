/**
 * Readers of partitioned topics through the streams API, on both servers: from earliest, latest,
 * one message id or one id per partition, with `stopAtEnd` ending once every partition reached
 * the end it had at the start (empty partitions and partitions already at their end included).
 * Every message carries its partition's name as `topic`; each partition's messages come in order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, PulsarWsClient, type ConsumerMessage } from '../../src/index.js';
import { decodeMessageId, encodeMessageId, messageIdOf } from '../../src/protocol/index.js';
import { publishAll, range } from '../helpers/publish.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const clients: PulsarWsClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function newClient(): PulsarWsClient {
  const client = new PulsarWsClient({ url: target.wsUrl });
  clients.push(client);
  return client;
}

const PARTITIONS = 3;
const full = (topic: string) => `persistent://public/default/${topic}`;

async function partitionedTopic(prefix: string): Promise<string> {
  const topic = uniqueTopic(prefix);
  const response = await fetch(`${target.adminUrl}/admin/v2/persistent/public/default/${topic}/partitions`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: String(PARTITIONS),
  });
  expect(response.status).toBe(204);
  return topic;
}

/** Publishes `count` messages to each listed partition directly. */
async function fill(topic: string, counts: readonly number[]): Promise<void> {
  await Promise.all(
    counts.map((count, partition) =>
      publishAll(
        target,
        `${topic}-partition-${partition}`,
        range(count).map((payload) => `p${partition}-${payload}`),
      ),
    ),
  );
}

/**
 * The ids each partition delivers, in order (a producer on a partition's own name gets ids that
 * name no partition, in Pulsar as here; the ids read back name it).
 */
async function deliveredIds(client: PulsarWsClient, topic: string): Promise<string[][]> {
  const ids: string[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const message of await client
    .reader(topic, { startMessageId: 'earliest', stopAtEnd: true })
    .toArray()) {
    ids[decodeMessageId(message.messageId).partition]?.push(message.messageId);
  }
  return ids;
}

/** The payloads by partition (from each message's topic), in the order they came. */
function byPartition(topic: string, messages: readonly ConsumerMessage[]): string[][] {
  const result: string[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const message of messages) {
    const partition = decodeMessageId(message.messageId).partition;
    expect(message.topic).toBe(`${full(topic)}-partition-${partition}`);
    result[partition]?.push(message.payload.toString());
  }
  return result;
}

const payloads = (partition: number, from: number, to: number) =>
  range(to)
    .slice(from)
    .map((payload) => `p${partition}-${payload}`);

describe('partitioned readers (streams)', () => {
  it('earliest with stopAtEnd: every message once, each partition in order, an empty partition does not hang', async () => {
    const topic = await partitionedTopic('pr-earliest');
    await fill(topic, [40, 25, 0]);
    const client = newClient();
    const read = await client
      .reader(topic, { startMessageId: 'earliest', stopAtEnd: true, highWaterMark: 7 })
      .toArray();
    expect(read).toHaveLength(65);
    expect(byPartition(topic, read)).toEqual([payloads(0, 0, 40), payloads(1, 0, 25), []]);
  });

  it('stopAtEnd ends at the end as of the start: messages published later are not read', async () => {
    const topic = await partitionedTopic('pr-asof');
    await fill(topic, [5, 5, 5]);
    const client = newClient();
    const reader = client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true, highWaterMark: 2 });
    const first = await new Promise<ConsumerMessage>((resolve) => reader.once('data', resolve));
    reader.pause();
    await fill(topic, [8, 8, 8]);
    const rest = await reader.toArray();
    expect([first, ...rest]).toHaveLength(15);
  });

  it('latest with stopAtEnd ends at once; every partition empty ends at once too', async () => {
    const topic = await partitionedTopic('pr-latest');
    await fill(topic, [3, 3, 3]);
    const client = newClient();
    expect(await client.reader(topic, { startMessageId: 'latest', stopAtEnd: true }).toArray()).toEqual([]);
    const empty = await partitionedTopic('pr-empty');
    expect(await client.reader(empty, { startMessageId: 'earliest', stopAtEnd: true }).toArray()).toEqual([]);
  });

  it('latest without stopAtEnd reads what is published afterwards, from every partition', async () => {
    const topic = await partitionedTopic('pr-follow');
    await fill(topic, [2, 2, 2]);
    const client = newClient();
    const reader = client.reader(topic, { startMessageId: 'latest' });
    await new Promise<void>((resolve) => reader.once('state', (state) => state === 'connected' && resolve()));
    await fill(topic, [3, 3, 3]);
    const read: ConsumerMessage[] = [];
    for await (const message of reader) {
      read.push(message);
      if (read.length === 9) break;
    }
    expect(byPartition(topic, read)).toEqual([payloads(0, 0, 3), payloads(1, 0, 3), payloads(2, 0, 3)]);
  });

  it('one message id: its partition starts after it, the others at earliest', async () => {
    const topic = await partitionedTopic('pr-id');
    await fill(topic, [6, 6, 6]);
    const client = newClient();
    const start = (await deliveredIds(client, topic))[1]?.[3] ?? '';
    expect(decodeMessageId(start).partition).toBe(1);
    const read = await client.reader(topic, { startMessageId: start, stopAtEnd: true }).toArray();
    expect(byPartition(topic, read)).toEqual([payloads(0, 0, 6), payloads(1, 4, 6), payloads(2, 0, 6)]);
  });

  it('one id per partition resumes each; a partition whose id is its last message reads nothing', async () => {
    const topic = await partitionedTopic('pr-ids');
    await fill(topic, [6, 6, 6]);
    const client = newClient();
    const delivered = await deliveredIds(client, topic);
    const ids = [delivered[0]?.[1], delivered[1]?.[5], delivered[2]?.[4]].map((id) => id ?? '');
    const read = await client.reader(topic, { startMessageId: ids, stopAtEnd: true }).toArray();
    expect(byPartition(topic, read)).toEqual([payloads(0, 2, 6), [], payloads(2, 5, 6)]);
    // Without stopAtEnd the same start follows the topic.
    const reader = client.reader(topic, { startMessageId: ids });
    await fill(topic, [0, 1, 0]);
    const next: ConsumerMessage[] = [];
    for await (const message of reader) {
      next.push(message);
      if (next.length === 6) break;
    }
    expect(byPartition(topic, next)).toEqual([payloads(0, 2, 6), ['p1-m0'], payloads(2, 5, 6)]);
  });

  it('a reconnect of the server-merged reader (earliest, no stopAtEnd) repeats and loses nothing', async () => {
    const topic = await partitionedTopic('pr-cut');
    await fill(topic, [40, 40, 40]);
    const proxy = await startFaultProxy(target.wsUrl);
    const client = new PulsarWsClient({ url: proxy.url, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    clients.push(client);
    try {
      const reader = client.reader(topic, { startMessageId: 'earliest', highWaterMark: 5 });
      const states: string[] = [];
      reader.on('state', (state) => states.push(state));
      const read: ConsumerMessage[] = [];
      for await (const message of reader) {
        read.push(message);
        if (read.length === 30) proxy.cut();
        if (read.length === 120) break;
      }
      expect(states).toContain('reconnecting');
      expect(byPartition(topic, read)).toEqual([payloads(0, 0, 40), payloads(1, 0, 40), payloads(2, 0, 40)]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it('ids that name no partition, or one the topic does not have, fail the stream naming the id', async () => {
    const topic = await partitionedTopic('pr-bad');
    const [plain] = await publishAll(target, uniqueTopic('pr-plain'), ['x']);
    const client = newClient();
    const reader = client.reader(topic, { startMessageId: plain?.messageId ?? '', stopAtEnd: true });
    const error = await reader.toArray().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/names no partition.*has 3 partitions/);
    const beyond = client.reader(topic, { startMessageId: encodeMessageId(messageIdOf(7, 0, 3)) });
    const refused = await beyond.toArray().catch((caught: unknown) => caught);
    expect((refused as Error).message).toMatch(/names partition 3, but .* has 3 partitions/);
    const twice = [messageIdOf(7, 0, 1), messageIdOf(7, 1, 1)].map(encodeMessageId);
    expect(() => client.reader(topic, { startMessageId: twice })).toThrow(/partition 1 is named twice/);
    expect(() => client.reader(topic, { startMessageId: [] })).toThrow(InvalidArgumentError);
    expect(() => client.reader(topic, { startMessageId: ['earliest'] })).toThrow(/one per partition/);
  });

  it('a non-partitioned topic reads as before with a list of one id, and refuses more', async () => {
    const topic = uniqueTopic('pr-single');
    const published = await publishAll(target, topic, range(5));
    const client = newClient();
    const read = await client
      .reader(topic, { startMessageId: [published[1]?.messageId ?? ''], stopAtEnd: true })
      .toArray();
    expect(read.map((m) => m.payload.toString())).toEqual(range(5).slice(2));
    expect(read.every((m) => m.topic === full(topic))).toBe(true);
    const ids = [0, 1].map((index) => published[index]?.messageId ?? '');
    const error = await client
      .reader(topic, { startMessageId: ids, stopAtEnd: true })
      .toArray()
      .catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/is not partitioned: expected one start message id, got 2/);
  });
});

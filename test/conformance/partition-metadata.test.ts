/**
 * A topic's partition metadata (`GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions`)
 * as Pulsar 4.0 answers it: a partitioned topic's count, 0 for a non-partitioned topic and for a
 * partition, and 404 `{"reason":"Topic … not found"}` for a name nothing exists under. And Pulsar's
 * `MessageId.latest` (Long.MAX:Long.MAX) as a reader's start: latest, on a partitioned base name too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeMessageId,
  encodeMessageId,
  positionOfMessageId,
  type DeliveredMessage,
} from '../../src/protocol/index.js';
import { PulsarWsClient } from '../../src/index.js';
import { publishAll, range } from '../helpers/publish.js';
import { readerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { fromBase64, SocketPool } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

const PARTITIONS = 3;
const admin = (topic: string) => `${target.adminUrl}/admin/v2/persistent/public/default/${topic}`;

async function partitionedTopic(): Promise<string> {
  const topic = uniqueTopic('meta');
  const response = await fetch(`${admin(topic)}/partitions`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: String(PARTITIONS),
  });
  expect(response.status).toBe(204);
  return topic;
}

/** Java's `MessageId.latest` serialized: ledger and entry Long.MAX_VALUE, nothing else. */
const LATEST_ID = Buffer.from([
  0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0x7f,
]).toString('base64');

describe('partition metadata', () => {
  it("a topic that does not exist: 404 with Pulsar's reason; the client counts 0 partitions", async () => {
    const topic = uniqueTopic('missing');
    const response = await fetch(`${admin(topic)}/partitions`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ reason: `Topic persistent://public/default/${topic} not found` });
    const client = new PulsarWsClient({ url: target.wsUrl });
    try {
      expect(await client.partitionCount(topic)).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('a non-partitioned topic: 0; a partitioned one: its count; one of its partitions: 0', async () => {
    const plain = uniqueTopic('plain');
    await publishAll(target, plain, ['x']);
    expect(await (await fetch(`${admin(plain)}/partitions`)).json()).toMatchObject({ partitions: 0 });
    const topic = await partitionedTopic();
    expect(await (await fetch(`${admin(topic)}/partitions`)).json()).toMatchObject({
      partitions: PARTITIONS,
    });
    const partition = await fetch(`${admin(`${topic}-partition-1`)}/partitions`);
    expect(partition.status).toBe(200);
    expect(await partition.json()).toMatchObject({ partitions: 0 });
  });
});

describe("Pulsar's MessageId.latest as a reader start", () => {
  it('decodes (Long.MAX as Infinity) and encodes back to the same bytes', () => {
    const id = decodeMessageId(LATEST_ID);
    expect(id).toMatchObject({ ledgerId: Infinity, entryId: Infinity, partition: -1, batchIndex: -1 });
    expect(positionOfMessageId(id)).toBe('latest');
    expect(encodeMessageId(id)).toBe(LATEST_ID);
  });

  it('on a partitioned base name: accepted, reads what is published after it', async () => {
    const topic = await partitionedTopic();
    await publishAll(target, topic, range(3, 'old'), { key: (i) => `k${i}` });
    const reader = await pool.open(readerUrl(target, topic, `?messageId=${encodeURIComponent(LATEST_ID)}`));
    const published = await publishAll(target, topic, range(6), { key: (i) => `k${i}` });
    const read = await reader.take<DeliveredMessage>(6);
    expect(read.map((m) => fromBase64(m.payload)).sort()).toEqual(range(6).sort());
    expect(read.map((m) => m.messageId).sort()).toEqual(published.map((p) => p.messageId).sort());
  });

  it('on a non-partitioned topic: reads what is published after it', async () => {
    const topic = uniqueTopic('latest-id');
    await publishAll(target, topic, range(2, 'old'));
    const reader = await pool.open(readerUrl(target, topic, `?messageId=${encodeURIComponent(LATEST_ID)}`));
    await publishAll(target, topic, range(2));
    expect((await reader.take<DeliveredMessage>(2)).map((m) => fromBase64(m.payload))).toEqual(range(2));
  });

  it('the client reads a partitioned topic from it as from latest', async () => {
    const topic = await partitionedTopic();
    await publishAll(target, topic, range(3, 'old'), { key: (i) => `k${i}` });
    const client = new PulsarWsClient({ url: target.wsUrl });
    try {
      const reader = client.reader(topic, { startMessageId: LATEST_ID });
      await new Promise<void>((resolve) =>
        reader.on('state', (state: string) => {
          if (state === 'connected') resolve();
        }),
      );
      await publishAll(target, topic, range(3), { key: (i) => `k${i}` });
      const read: string[] = [];
      for await (const message of reader) {
        read.push((message as { payload: Buffer }).payload.toString());
        if (read.length === 3) break;
      }
      expect(read.sort()).toEqual(range(3).sort());
    } finally {
      await client.close();
    }
  });
});

/**
 * Retention on the embedded broker (embedded only: on Pulsar the moment a ledger is deleted depends
 * on its rollover, so the both-server checks are in test/conformance/retention.test.ts). A soak
 * publishes and acknowledges on a few topics and watches the data directory: bounded with no
 * retention, everything kept with infinite retention. Backlog stats, readers from `earliest` and
 * deduplication stay right after consumed ledgers are deleted.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from '../../src/broker/index.js';
import { decodeMessageId } from '../../src/protocol/index.js';
import { base64, fromBase64, SocketPool, TestSocket } from '../helpers/ws-client.js';

const pool = new SocketPool();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await pool.closeAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Small ledgers, so a soak of a few megabytes spans many of them. */
const SMALL_LEDGERS: Partial<EmbeddedBrokerOptions> = {
  maxSegmentBytes: 64 * 1024,
  maxEntriesPerSegment: 50,
};

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-retention-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function startBroker(
  dataDir: string,
  options: Partial<EmbeddedBrokerOptions> = {},
): Promise<EmbeddedBroker> {
  const broker = await EmbeddedBroker.start({
    port: 0,
    dataDir,
    fsync: 'never',
    ...SMALL_LEDGERS,
    ...options,
  });
  cleanups.push(() => broker.stop());
  return broker;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile())
      total += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

async function admin(
  broker: EmbeddedBroker,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${broker.httpUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
  });
}

async function createNamespace(broker: EmbeddedBroker, name: string, retention?: object): Promise<void> {
  expect((await admin(broker, 'PUT', `/admin/v2/namespaces/public/${name}`)).status).toBe(204);
  if (retention !== undefined) {
    expect(
      (await admin(broker, 'POST', `/admin/v2/namespaces/public/${name}/retention`, retention)).status,
    ).toBe(204);
  }
}

interface Delivered {
  readonly messageId: string;
  readonly payload: string;
}

/** Publishes `count` messages of `size` bytes and has the consumer receive and ack every one. */
async function publishAndAck(
  producer: TestSocket,
  consumer: TestSocket,
  prefix: string,
  count: number,
  size: number,
): Promise<void> {
  const filler = 'x'.repeat(size);
  for (let i = 0; i < count; i++) producer.send({ payload: base64(`${prefix}-${i}:${filler}`) });
  const acks = await producer.take<{ result: string }>(count);
  expect(acks.every((ack) => ack.result === 'ok')).toBe(true);
  for (const message of await consumer.take<Delivered>(count))
    consumer.send({ messageId: message.messageId });
}

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function backlog(broker: EmbeddedBroker, namespace: string, topic: string): Promise<number> {
  const stats = (await (
    await admin(broker, 'GET', `/admin/v2/persistent/public/${namespace}/${topic}/stats`)
  ).json()) as {
    subscriptions: Record<string, { msgBacklog: number }>;
  };
  return stats.subscriptions.sub?.msgBacklog ?? -1;
}

/**
 * Three topics, each with a Shared consumer acking everything, 40 rounds of 50 messages of 1 KiB:
 * 6 MB go through. Returns the largest data directory seen after a round.
 */
async function soak(
  broker: EmbeddedBroker,
  dataDir: string,
  namespace: string,
): Promise<{ largest: number; written: number }> {
  const topics = ['a', 'b', 'c'];
  const sockets = await Promise.all(
    topics.map(async (topic) => ({
      consumer: await pool.open(
        `${broker.url}/ws/v2/consumer/persistent/public/${namespace}/${topic}/sub?subscriptionType=Shared&receiverQueueSize=1000`,
      ),
      producer: await pool.open(`${broker.url}/ws/v2/producer/persistent/public/${namespace}/${topic}`),
    })),
  );
  let largest = 0;
  const rounds = 40;
  const perRound = 50;
  const size = 1024;
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      sockets.map(({ producer, consumer }) => publishAndAck(producer, consumer, `r${round}`, perRound, size)),
    );
    largest = Math.max(largest, await dirBytes(dataDir));
  }
  return { largest, written: topics.length * rounds * perRound * size };
}

describe('retention (embedded broker)', () => {
  it('soak without retention: the data directory stays bounded while everything is acknowledged', async () => {
    const dataDir = await freshDir();
    const broker = await startBroker(dataDir);
    await createNamespace(broker, 'soak');
    const { largest, written } = await soak(broker, dataDir, 'soak');
    console.log(`no retention: ${written} bytes written, data directory at most ${largest} bytes`);
    // Each topic keeps at most its current ledger and one being deleted: a few 64 KiB ledgers.
    expect(largest).toBeLessThan(1024 * 1024);
    expect(written).toBeGreaterThan(5 * largest);
    // Backlog stats stay right after deletion: nothing left, then exactly what is new.
    expect(await backlog(broker, 'soak', 'a')).toBe(0);
  });

  it('soak with infinite retention (-1, -1): everything is kept', async () => {
    const dataDir = await freshDir();
    const broker = await startBroker(dataDir);
    await createNamespace(broker, 'keep', { retentionTimeInMinutes: -1, retentionSizeInMB: -1 });
    const { written } = await soak(broker, dataDir, 'keep');
    expect(await dirBytes(dataDir)).toBeGreaterThan(written);
  });

  it('the broker defaults apply to namespaces without a policy; a size limit keeps about that much', async () => {
    const dataDir = await freshDir();
    const broker = await startBroker(dataDir, {
      defaultRetentionTimeInMinutes: -1,
      defaultRetentionSizeInMB: 1,
    });
    await createNamespace(broker, 'sized');
    const { largest, written } = await soak(broker, dataDir, 'sized');
    const kept = await dirBytes(dataDir);
    console.log(`1 MB retention: ${written} written, ${kept} kept (at most ${largest})`);
    // Three topics keep about 1 MB each (a ledger more or less), far less than was written.
    expect(kept).toBeGreaterThan(2 * 1024 * 1024);
    expect(kept).toBeLessThan(4 * 1024 * 1024);
  });

  it('after deletion, backlog stats are right and a reader from earliest starts at the first kept message', async () => {
    const dataDir = await freshDir();
    const broker = await startBroker(dataDir);
    await createNamespace(broker, 'after');
    const consumer = await pool.open(
      `${broker.url}/ws/v2/consumer/persistent/public/after/t/sub?subscriptionType=Shared`,
    );
    const producer = await pool.open(`${broker.url}/ws/v2/producer/persistent/public/after/t`);
    await publishAndAck(producer, consumer, 'old', 300, 16);
    // Ten more, received but not acknowledged.
    for (let i = 0; i < 10; i++) producer.send({ payload: base64(`new-${i}`) });
    expect((await producer.take<{ result: string }>(10)).every((ack) => ack.result === 'ok')).toBe(true);
    await consumer.take(10);
    await waitFor(
      async () =>
        (await readdir(join(dataDir, 'topics', encodeURIComponent('persistent://public/after/t')))).filter(
          (name) => name.startsWith('ledger-'),
        ).length <= 2,
      'consumed ledgers to be deleted',
    );
    expect(await backlog(broker, 'after', 't')).toBe(10);
    const reader = await pool.open(`${broker.url}/ws/v2/reader/persistent/public/after/t?messageId=earliest`);
    const read: string[] = [];
    while (read.at(-1) !== 'new-9')
      read.push(fromBase64((await reader.next<Delivered>()).payload).split(':')[0] ?? '');
    expect(read.length).toBeLessThan(310);
    // What is left is a suffix of what was published: the first kept message, then everything after it.
    const published = [
      ...Array.from({ length: 300 }, (_, i) => `old-${i}`),
      ...Array.from({ length: 10 }, (_, i) => `new-${i}`),
    ];
    expect(read).toEqual(published.slice(published.length - read.length));
  });

  it('deduplication survives a restart after the messages it saw were deleted (the snapshot is kept with the cursors)', async () => {
    const dataDir = await freshDir();
    let broker = await startBroker(dataDir, { deduplication: true });
    await createNamespace(broker, 'dedup');
    const url = `${broker.url}/ws/v2/producer/persistent/public/dedup/t?producerName=p`;
    const consumer = await pool.open(
      `${broker.url}/ws/v2/consumer/persistent/public/dedup/t/sub?subscriptionType=Shared`,
    );
    let producer = await pool.open(url);
    for (let i = 0; i < 1200; i++) producer.send({ payload: base64(`m${i}`) });
    await producer.take(1200);
    // Acked as they come: the consumer's window is 1000 messages.
    for (let i = 0; i < 1200; i++) consumer.send({ messageId: (await consumer.next<Delivered>()).messageId });
    await pool.closeAll();
    await broker.stop();
    broker = await startBroker(dataDir, { deduplication: true });
    const topicDir = join(dataDir, 'topics', encodeURIComponent('persistent://public/dedup/t'));
    expect(await readdir(join(topicDir, 'subscriptions'))).toContain('pulsar.dedup.snapshot');
    // The messages behind those sequence ids are gone: only the snapshot knows them.
    const ledgers = (await readdir(topicDir)).filter((name) => name.startsWith('ledger-'));
    expect(ledgers.length).toBeLessThan(1200 / 50);
    producer = await pool.open(
      `${broker.url}/ws/v2/producer/persistent/public/dedup/t?producerName=p&initialSequenceId=1198`,
    );
    // Sequence ids 0..1199 were stored (and their ledgers deleted): 1199 is a duplicate, 1200 is new.
    producer.send({ payload: base64('again') });
    const ack = await producer.next<{ result: string; messageId: string }>();
    expect(decodeMessageId(ack.messageId)).toMatchObject({ ledgerId: -1, entryId: -1 });
    producer.send({ payload: base64('next') });
    const next = await producer.next<{ result: string; messageId: string }>();
    expect(decodeMessageId(next.messageId).ledgerId).toBeGreaterThan(0);
  });

  it("refuses invalid retention policies with 400 and Pulsar's message", async () => {
    const broker = await startBroker(await freshDir());
    const response = await admin(broker, 'POST', '/admin/v2/namespaces/public/default/retention', {
      retentionTimeInMinutes: 0,
      retentionSizeInMB: 10,
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { reason: string }).reason).toMatch(
      /Setting a single time or size limit to 0/,
    );
    expect(
      (
        await admin(broker, 'POST', '/admin/v2/namespaces/public/default/retention', {
          retentionTimeInMinutes: -2,
          retentionSizeInMB: 1,
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await admin(broker, 'POST', '/admin/v2/namespaces/public/nope/retention', {
          retentionTimeInMinutes: -1,
          retentionSizeInMB: -1,
        })
      ).status,
    ).toBe(404);
  });
});

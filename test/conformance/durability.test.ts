/**
 * Restart durability (embedded broker only: it kills the broker process with SIGKILL, which a test
 * cannot do to a shared real Pulsar). Acknowledged publishes survive; acked messages are not
 * redelivered, unacked ones are.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeliveredMessage } from '../../src/protocol/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { publishAll, range } from '../helpers/publish.js';
import { consumerUrl, externalTarget, readerUrl, uniqueTopic, type Target } from '../helpers/target.js';
import { base64, fromBase64, SocketPool, TestSocket } from '../helpers/ws-client.js';

type Delivered = DeliveredMessage;

const pool = new SocketPool();
let dataDir = '';
let broker: BrokerProcess | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pws-durability-'));
});
afterEach(async () => {
  await pool.closeAll();
  broker?.child.kill('SIGKILL');
  if (broker !== undefined) await broker.exited;
  broker = undefined;
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

async function start(): Promise<Target> {
  broker = await startBrokerProcess(['--data-dir', dataDir, '--log-level', 'warn']);
  return { wsUrl: broker.url, adminUrl: broker.url.replace(/^ws/, 'http'), embedded: true };
}

async function killHard(): Promise<void> {
  broker?.child.kill('SIGKILL');
  expect(await broker?.exited).toBe('SIGKILL');
  broker = undefined;
}

async function readAll(socket: TestSocket, count: number): Promise<Delivered[]> {
  const messages: Delivered[] = [];
  while (messages.length < count) {
    const message = await socket.next<Delivered>();
    messages.push(message);
    socket.send({ messageId: message.messageId }); // reader credit
  }
  return messages;
}

describe.skipIf(externalTarget)('embedded only (kills the broker process): restart durability', () => {
  it('10 000 messages, half acked, SIGKILL: the subscription gets exactly the unacked half; a reader sees all', async () => {
    const topic = uniqueTopic('durable');
    let target = await start();
    const published = await publishAll(target, topic, range(10_000));

    const consumer = await pool.open(
      consumerUrl(target, topic, 'sub', '?subscriptionInitialPosition=Earliest&pullMode=true'),
    );
    consumer.send({ type: 'permit', permitMessages: 10_000 });
    const delivered = await consumer.take<Delivered>(10_000);
    expect(delivered.map((m) => m.messageId)).toEqual(published.map((p) => p.messageId));
    delivered.forEach((message, index) => {
      if (index % 2 === 0) consumer.send({ messageId: message.messageId });
    });
    // The answer comes after the preceding acks are written: from here they survive a crash.
    consumer.send({ type: 'isEndOfTopic' });
    expect(await consumer.next()).toEqual({ endOfTopic: false });
    await killHard();

    target = await start();
    const again = await pool.open(consumerUrl(target, topic, 'sub', '?pullMode=true'));
    again.send({ type: 'permit', permitMessages: 10_000 });
    const redelivered = await again.take<Delivered>(5_000);
    expect(redelivered.map((m) => m.messageId)).toEqual(
      published.filter((_, i) => i % 2 === 1).map((p) => p.messageId),
    );
    expect(await again.drain()).toEqual([]);

    const reader = await pool.open(readerUrl(target, topic, '?messageId=earliest'));
    const all = await readAll(reader, 10_000);
    expect(all.map((m) => fromBase64(m.payload))).toEqual(range(10_000));

    // New messages after the restart order after the old ones (a new ledger, as in Pulsar).
    const [next] = await publishAll(target, topic, ['after-restart']);
    const [newest] = await readAll(reader, 1);
    expect(newest?.messageId).toBe(next?.messageId);
  });

  it('every publish acked before a SIGKILL mid-stream is there after the restart', async () => {
    const topic = uniqueTopic('midstream');
    let target = await start();
    const producer = await TestSocket.open(
      `${target.wsUrl}/ws/v2/producer/persistent/public/default/${topic}`,
    );
    const acked: string[] = [];
    let sent = 0;
    // Keep a window of sends in flight and kill the broker while they are.
    for (; sent < 500; sent++) producer.send({ payload: base64(`m${sent}`), context: String(sent) });
    while (acked.length < 200) {
      const ack = await producer.next<{ result: string; messageId: string }>();
      expect(ack.result).toBe('ok');
      acked.push(ack.messageId);
    }
    await killHard();
    await producer.closed;

    target = await start();
    const reader = await pool.open(readerUrl(target, topic, '?messageId=earliest'));
    const stored = await readAll(reader, acked.length);
    expect(stored.map((m) => m.messageId)).toEqual(acked);
  });
});

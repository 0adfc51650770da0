/**
 * Idle topics release their files and caches, and open topics are bounded, so a broker under a
 * common `ulimit -n 1024` serves thousands of topics. The broker runs as a child process started
 * through `bash -c 'ulimit -n …; exec node …'`; its descriptors and RSS are read from /proc.
 * When the process does run out of descriptors, the client being served gets `send-error` or a
 * 503 and nothing else is harmed.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { base64, fromBase64, HandshakeRefusedError, TestSocket } from '../helpers/ws-client.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startBroker(ulimitFiles: number, args: string[]): Promise<BrokerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pws-open-files-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const broker = await startBrokerProcess(
    ['--data-dir', dataDir, '--fsync', 'never', '--log-level', 'warn', ...args],
    15_000,
    { ulimitFiles },
  );
  cleanups.push(async () => {
    broker.child.kill('SIGTERM');
    await broker.exited;
  });
  return broker;
}

async function openDescriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

interface Frame {
  readonly result?: string;
  readonly errorMsg?: string;
  readonly messageId?: string;
  readonly payload?: string;
}

/** One topic used once: a Shared consumer, a producer sending `count` messages, both closed. */
async function useTopicOnce(wsUrl: string, topic: string, count: number): Promise<number> {
  const base = `${wsUrl}/ws/v2`;
  const consumer = await TestSocket.open(
    `${base}/consumer/persistent/public/default/${topic}/sub?subscriptionType=Shared`,
  );
  const producer = await TestSocket.open(`${base}/producer/persistent/public/default/${topic}`);
  try {
    for (let i = 0; i < count; i++) producer.send({ payload: base64(`${topic}-${i}`) });
    const acks = await producer.take<Frame>(count);
    if (acks.some((ack) => ack.result !== 'ok')) throw new Error(`publish failed: ${JSON.stringify(acks)}`);
    let delivered = 0;
    for (const message of await consumer.take<Frame>(count)) {
      consumer.send({ messageId: message.messageId });
      delivered++;
    }
    return delivered;
  } finally {
    await Promise.all([producer.close(), consumer.close()]);
  }
}

describe('idle topics and the open-file bound', () => {
  it('2,000 topics used once each under ulimit -n 1024: no EMFILE; descriptors and RSS come back after the idle time', async () => {
    const broker = await startBroker(1024, ['--topic-idle-timeout-ms', '500', '--max-open-topics', '100']);
    const pid = broker.child.pid ?? 0;
    // Warm up (first handshake, JIT), then take the starting values.
    await useTopicOnce(broker.url, 'warm-up', 1);
    // Let the warm-up topic go idle and close.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const startDescriptors = await openDescriptors(pid);
    const startRss = await rssBytes(pid);
    let delivered = 0;
    const topics = 2000;
    const concurrency = 200;
    for (let batch = 0; batch < topics; batch += concurrency) {
      const counts = await Promise.all(
        Array.from({ length: concurrency }, (_, i) => useTopicOnce(broker.url, `t-${batch + i}`, 5)),
      );
      delivered += counts.reduce((sum, count) => sum + count, 0);
    }
    expect(delivered).toBe(topics * 5);
    const peakDescriptors = await openDescriptors(pid);
    // Idle topics close after 500 ms: descriptors come back to where they started.
    const settled = await waitUntil(async () => (await openDescriptors(pid)) <= startDescriptors + 5, 20_000);
    const endDescriptors = await openDescriptors(pid);
    await waitUntil(async () => (await rssBytes(pid)) <= startRss + 64 * 1024 * 1024, 20_000);
    const endRss = await rssBytes(pid);
    console.log(
      `descriptors: start ${startDescriptors}, after the clients ${peakDescriptors}, after the idle time ${endDescriptors}; ` +
        `RSS MB: start ${(startRss / 2 ** 20).toFixed(0)}, end ${(endRss / 2 ** 20).toFixed(0)}`,
    );
    expect(settled).toBe(true);
    expect(endRss).toBeLessThanOrEqual(startRss + 64 * 1024 * 1024);
    expect(broker.stderr()).not.toMatch(/EMFILE/);
  }, 240_000);

  it('without an idle timeout, the LRU bound alone keeps 600 topics within ulimit -n 256', async () => {
    const broker = await startBroker(256, ['--topic-idle-timeout-ms', '0', '--max-open-topics', '40']);
    const pid = broker.child.pid ?? 0;
    let delivered = 0;
    let mostDescriptors = 0;
    for (let batch = 0; batch < 600; batch += 50) {
      const counts = await Promise.all(
        Array.from({ length: 50 }, (_, i) => useTopicOnce(broker.url, `lru-${batch + i}`, 2)),
      );
      delivered += counts.reduce((sum, count) => sum + count, 0);
      mostDescriptors = Math.max(mostDescriptors, await openDescriptors(pid));
    }
    expect(delivered).toBe(1200);
    // Without the bound, 600 open topics would hold over 1,200 descriptors.
    console.log(`LRU bound 40: at most ${mostDescriptors} descriptors seen`);
    expect(mostDescriptors).toBeLessThan(256);
    expect(broker.stderr()).not.toMatch(/EMFILE/);
  }, 120_000);

  it('out of descriptors: the client being served gets send-error or 503; other topics and the broker are unharmed', async () => {
    const broker = await startBroker(90, ['--topic-idle-timeout-ms', '0']);
    const base = `${broker.url}/ws/v2`;
    // A topic with data and a subscription, written before the descriptors run out.
    const kept = Array.from({ length: 20 }, (_, i) => `kept-${i}`);
    const consumer = await TestSocket.open(
      `${base}/consumer/persistent/public/default/kept/sub?subscriptionType=Shared`,
    );
    const keptProducer = await TestSocket.open(`${base}/producer/persistent/public/default/kept`);
    for (const payload of kept) keptProducer.send({ payload: base64(payload) });
    expect((await keptProducer.take<Frame>(kept.length)).every((ack) => ack.result === 'ok')).toBe(true);
    await keptProducer.close();
    // Many producers on new topics, kept open, each publishing once: their ledgers need descriptors.
    const producers: TestSocket[] = [];
    const outcomes = { ok: 0, sendError: 0, refused503: 0, connectionFailed: 0, other: [] as string[] };
    for (let i = 0; i < 80; i++) {
      try {
        producers.push(await TestSocket.open(`${base}/producer/persistent/public/default/storm-${i}`));
      } catch (error) {
        if (error instanceof HandshakeRefusedError && error.status === 503) outcomes.refused503++;
        else if (error instanceof HandshakeRefusedError) outcomes.other.push(`HTTP ${error.status}`);
        else outcomes.connectionFailed++;
      }
    }
    for (const producer of producers) producer.send({ payload: base64('storm') });
    for (const producer of producers) {
      const ack = await producer.next<Frame>().catch((): Frame => ({ result: 'closed' }));
      if (ack.result === 'ok') outcomes.ok++;
      else if (ack.result?.startsWith('send-error') === true) outcomes.sendError++;
      else outcomes.other.push(JSON.stringify(ack));
    }
    console.log(`out of descriptors: ${JSON.stringify(outcomes)}`);
    // The limit was reached, and only in the ways a client can handle.
    expect(outcomes.sendError + outcomes.refused503 + outcomes.connectionFailed).toBeGreaterThan(0);
    expect(outcomes.other).toEqual([]);
    await Promise.all(producers.map((producer) => producer.close()));
    // The broker still serves, the earlier topic has all its data and its subscription its backlog.
    expect((await fetch(`${broker.url.replace(/^ws/, 'http')}/admin/v2/brokers/health`)).status).toBe(200);
    const received: string[] = [];
    while (received.length < kept.length) {
      const message = await consumer.next<Frame>();
      received.push(fromBase64(message.payload ?? ''));
      consumer.send({ messageId: message.messageId });
    }
    expect(received).toEqual(kept);
    await consumer.close();
    // And a topic refused earlier works now that descriptors are free again.
    expect(await useTopicOnce(broker.url, 'storm-0', 3)).toBe(3);
    expect(broker.child.exitCode).toBeNull();
  }, 120_000);
});

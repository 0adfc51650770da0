/**
 * Streams under faults: sockets cut mid-stream (through a fault-injecting proxy) and broker restarts,
 * during produce and consume. Nothing may be lost; reconnects must be observable; no stall may last
 * much longer than the backoff cap. With effectively-once on a topic with deduplication, a cut
 * leaves no duplicate. Runs against the embedded broker, or real Pulsar when PULSAR_WS_URL is set
 * (restarts only against the embedded broker: restarting Pulsar is the integration suite's business).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/broker/index.js';
import { ackingSink, PulsarWsClient, type ConsumerMessage, type SessionState } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { publishAll, range } from '../helpers/publish.js';
import { createDedupNamespace, expectAllDelivered, topicPayloads } from '../helpers/topics.js';
import { externalTarget, uniqueTopic, useTarget, type Target } from '../helpers/target.js';

const target = useTarget();
const BACKOFF_CAP_MS = 500;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function clientFor(url: string): PulsarWsClient {
  const client = new PulsarWsClient({ url, reconnect: { initialDelayMs: 50, maxDelayMs: BACKOFF_CAP_MS } });
  cleanups.push(() => client.close());
  return client;
}

async function proxyTo(url: string): Promise<FaultProxy> {
  const proxy = await startFaultProxy(url);
  cleanups.push(() => proxy.close());
  return proxy;
}

/** Tracks the longest gap between progress events (acks, writes). */
function gapMeter(): { tick: () => void; resume: () => void; longest: () => number } {
  let last = Date.now();
  let longest = 0;
  return {
    /** Starts a new interval without counting the time since the last tick (a new phase). */
    resume: () => {
      last = Date.now();
    },
    tick: () => {
      const now = Date.now();
      longest = Math.max(longest, now - last);
      last = now;
    },
    longest: () => longest,
  };
}

/**
 * Progress-driven faults (timers would miss a fast server): `at(count)` fires `fault` when the count
 * of acks or writes reaches one of `points`; a fault still running is not started again.
 */
function faultsAt(
  points: readonly number[],
  fault: () => void | Promise<void>,
): { at: (count: number) => void; fired: () => number; settled: () => Promise<void> } {
  let fired = 0;
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  return {
    at: (count) => {
      if (busy || !points.includes(count)) return;
      fired += 1;
      busy = true;
      running = Promise.resolve(fault()).finally(() => (busy = false));
    },
    fired: () => fired,
    settled: () => running,
  };
}

/**
 * Pipes `consumer` into an acking sink until `distinctCount` different payloads were written (then
 * stops it); `onWrite` gets the count of writes so far. Returns every payload written, duplicates too.
 */
async function consumeUntilAll(
  consumer: Readable,
  distinctCount: number,
  onWrite: (count: number) => void,
): Promise<string[]> {
  const written: string[] = [];
  const distinct = new Set<string>();
  const stop = new AbortController();
  const sink = new Writable({
    objectMode: true,
    write(chunk: ConsumerMessage, _encoding, callback) {
      written.push(chunk.payload.toString());
      distinct.add(chunk.payload.toString());
      onWrite(written.length);
      callback();
      if (distinct.size === distinctCount) setImmediate(() => stop.abort());
    },
  });
  await pipeline(consumer, ackingSink(sink), { signal: stop.signal }).catch((error: unknown) => {
    if ((error as Error).name !== 'AbortError') throw error;
  });
  return written;
}

const CUT_POINTS = [400, 1100, 1700, 2500];

describe('streams under faults', () => {
  it('producer: sockets cut mid-stream; every message stored, reconnects observed, no long stall', async () => {
    const proxy = await proxyTo(target.wsUrl);
    const topic = uniqueTopic('cut-produce');
    const producer = clientFor(proxy.url).producer(topic, { maxInFlight: 200 });
    const states: SessionState[] = [];
    producer.on('state', (state: SessionState) => states.push(state));
    const gaps = gapMeter();
    const faults = faultsAt(CUT_POINTS, () => proxy.cut());
    let acked = 0;
    producer.on('ack', () => {
      gaps.tick();
      faults.at(++acked);
    });
    const payloads = range(3000);
    await pipeline(Readable.from(payloads), producer);
    expect(proxy.cuts).toBe(CUT_POINTS.length);
    expect(states.filter((state) => state === 'reconnecting')).toHaveLength(CUT_POINTS.length);
    expectAllDelivered('produce with cuts', await topicPayloads(target, topic), payloads);
    console.log(`produce with cuts: ${proxy.cuts} cuts, longest gap between acks ${gaps.longest()} ms`);
    expect(gaps.longest()).toBeLessThan(BACKOFF_CAP_MS + 3000);
  });

  it('producer effectively-once: with deduplication on, cuts mid-stream leave no duplicate', async () => {
    const namespace = await createDedupNamespace(target, 'dedup');
    const topic = `persistent://${namespace}/${uniqueTopic('eo')}`;
    const proxy = await proxyTo(target.wsUrl);
    const producer = clientFor(proxy.url).producer(topic, {
      producerName: `eo-${process.pid}`,
      initialSequenceId: -1,
      effectivelyOnce: true,
      maxInFlight: 200,
    });
    const faults = faultsAt(CUT_POINTS, () => proxy.cut());
    let acked = 0;
    producer.on('ack', () => faults.at(++acked));
    const payloads = range(3000);
    await pipeline(Readable.from(payloads), producer);
    expect(proxy.cuts).toBe(CUT_POINTS.length);
    expect(producer.lastAckedSequenceId).toBe(2999);
    const stored = await topicPayloads(target, topic);
    expect(expectAllDelivered('effectively-once with cuts', stored, payloads)).toBe(0);
    expect(stored).toEqual(payloads);
  });

  it('consumer: sockets cut mid-stream; every message written at least once, none lost', async () => {
    const topic = uniqueTopic('cut-consume');
    const payloads = range(2000);
    await publishAll(target, topic, payloads);
    const proxy = await proxyTo(target.wsUrl);
    const consumer = clientFor(proxy.url).consumer(topic, 's', {
      subscriptionType: 'Shared',
      subscriptionInitialPosition: 'Earliest',
      highWaterMark: 50,
    });
    const states: SessionState[] = [];
    consumer.on('state', (state: SessionState) => states.push(state));
    const gaps = gapMeter();
    const faults = faultsAt(CUT_POINTS.slice(0, 3), () => proxy.cut());
    const written = await consumeUntilAll(consumer, payloads.length, (count) => {
      gaps.tick();
      faults.at(count);
    });
    expect(proxy.cuts).toBe(3);
    expect(states.filter((state) => state === 'reconnecting')).toHaveLength(3);
    expectAllDelivered('consume with cuts', written, payloads);
    console.log(`consume with cuts: ${proxy.cuts} cuts, longest gap between writes ${gaps.longest()} ms`);
    expect(gaps.longest()).toBeLessThan(BACKOFF_CAP_MS + 3000);
  });

  it.skipIf(externalTarget)(
    'embedded broker restarts during produce and consume: nothing lost (embedded only)',
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'pws-restart-'));
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
      // The topic is read back whole after the subscription consumed it: keep consumed ledgers.
      const options = {
        port: 0,
        dataDir,
        fsync: 'never',
        defaultRetentionTimeInMinutes: -1,
        defaultRetentionSizeInMB: -1,
      } as const;
      let broker = await EmbeddedBroker.start(options);
      cleanups.push(() => broker.stop());
      const proxy = await proxyTo(broker.url);
      const restart = async (): Promise<void> => {
        await broker.stop();
        broker = await EmbeddedBroker.start(options);
        proxy.retarget(Number(new URL(broker.url).port));
      };
      const client = clientFor(proxy.url);
      const payloads = range(3000);
      const producer = client.producer('restart', { maxInFlight: 200 });
      let reconnects = 0;
      const countReconnects = (state: SessionState) => {
        if (state === 'reconnecting') reconnects += 1;
      };
      producer.on('state', countReconnects);
      const produceFaults = faultsAt(CUT_POINTS, restart);
      // A restart stops the broker (flushing its data) and starts it again: allow that on top of the cap.
      const gaps = gapMeter();
      let acked = 0;
      producer.on('ack', () => {
        gaps.tick();
        produceFaults.at(++acked);
      });
      await pipeline(Readable.from(payloads), producer);
      await produceFaults.settled();
      expect(produceFaults.fired()).toBeGreaterThan(1);

      expect(reconnects).toBeGreaterThan(1);
      reconnects = 0;

      gaps.resume();
      const consumer = client.consumer('restart', 's', {
        subscriptionInitialPosition: 'Earliest',
        highWaterMark: 50,
      });
      consumer.on('state', countReconnects);
      const consumeFaults = faultsAt(CUT_POINTS, restart);
      const written = await consumeUntilAll(consumer, payloads.length, (count) => {
        gaps.tick();
        consumeFaults.at(count);
      });
      await consumeFaults.settled();
      expect(consumeFaults.fired()).toBeGreaterThan(1);
      const direct: Target = { wsUrl: broker.url, adminUrl: broker.httpUrl, embedded: true };
      expectAllDelivered('produce with restarts', await topicPayloads(direct, 'restart'), payloads);
      expectAllDelivered('consume with restarts', written, payloads);
      expect(reconnects).toBeGreaterThan(1);
      console.log(`restarts: longest gap between acks or writes ${gaps.longest()} ms`);
      expect(gaps.longest()).toBeLessThan(BACKOFF_CAP_MS + 5000);
    },
  );
});

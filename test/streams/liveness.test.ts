/**
 * Silent paths: a proxy that freezes the connection mid-stream (no FIN, no RST, nothing moves), as a
 * NAT or load balancer that dropped its state does. Each stream must notice through its heartbeat,
 * drop the connection, reconnect and finish with nothing lost. The server's idle timeout (10 s here;
 * `webSocketSessionIdleTimeoutMillis` on Pulsar in CI) lets go of the frozen session on its side.
 * Runs against the embedded broker, or real Pulsar when PULSAR_WS_URL is set.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ackingSink, PulsarWsClient, type ConsumerMessage, type PulsarWsError } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { publishAll, range } from '../helpers/publish.js';
import { expectAllDelivered, topicPayloads } from '../helpers/topics.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget({ idleTimeoutMillis: 10_000 });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Fast liveness so the tests notice a frozen path in about 1.5 s. */
function clientFor(url: string): PulsarWsClient {
  const client = new PulsarWsClient({
    url,
    pingIntervalMs: 500,
    pongTimeoutMs: 1000,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
  });
  cleanups.push(() => client.close());
  return client;
}

async function proxyTo(url: string): Promise<FaultProxy> {
  const proxy = await startFaultProxy(url);
  cleanups.push(() => proxy.close());
  return proxy;
}

/** Records why each reconnect happened. */
function reconnectReasons(stream: NodeJS.EventEmitter): string[] {
  const reasons: string[] = [];
  stream.on('state', (state: string, error?: PulsarWsError) => {
    if (state === 'reconnecting') reasons.push(error?.message ?? '');
  });
  return reasons;
}

const FROZEN_TEST_TIMEOUT = 60_000;

describe('silent network paths', () => {
  it(
    'consumer (Exclusive): frozen mid-stream while a producer keeps publishing; every message written, the silence noticed',
    async () => {
      const topic = uniqueTopic('freeze-consume');
      const first = range(500, 'a');
      const second = range(500, 'b');
      await publishAll(target, topic, first);
      const proxy = await proxyTo(target.wsUrl);
      const consumer = clientFor(proxy.url).consumer(topic, 'freeze', {
        subscriptionInitialPosition: 'Earliest',
        highWaterMark: 50,
      });
      const reasons = reconnectReasons(consumer);
      const written: string[] = [];
      const distinct = new Set<string>();
      const stop = new AbortController();
      let frozen = false;
      let publishing: Promise<unknown> = Promise.resolve();
      const sink = new Writable({
        objectMode: true,
        write(message: ConsumerMessage, _encoding, callback) {
          written.push(message.payload.toString());
          distinct.add(message.payload.toString());
          if (!frozen && written.length === 200) {
            frozen = true;
            proxy.freeze();
            // The producer goes straight to the server: the topic keeps growing while the path is dead.
            publishing = publishAll(target, topic, second);
          }
          callback();
          if (distinct.size === first.length + second.length) setImmediate(() => stop.abort());
        },
      });
      await pipeline(consumer, ackingSink(sink), { signal: stop.signal }).catch((error: unknown) => {
        if ((error as Error).name !== 'AbortError') throw error;
      });
      await publishing;
      expect(reasons.some((reason) => reason.includes('silent'))).toBe(true);
      const duplicates = expectAllDelivered('consume through a frozen path', written, [...first, ...second]);
      console.log(`frozen consumer: reconnects ${reasons.length}, duplicates ${duplicates}`);
    },
    FROZEN_TEST_TIMEOUT,
  );

  it(
    'producer: frozen mid-stream; every message stored, the silence noticed',
    async () => {
      const topic = uniqueTopic('freeze-produce');
      const proxy = await proxyTo(target.wsUrl);
      const producer = clientFor(proxy.url).producer(topic, { maxInFlight: 100 });
      const reasons = reconnectReasons(producer);
      let acked = 0;
      producer.on('ack', () => {
        acked += 1;
        if (acked === 300) proxy.freeze();
      });
      const payloads = range(1000);
      await pipeline(Readable.from(payloads), producer);
      expect(reasons.some((reason) => reason.includes('silent'))).toBe(true);
      expectAllDelivered('produce through a frozen path', await topicPayloads(target, topic), payloads);
    },
    FROZEN_TEST_TIMEOUT,
  );

  it(
    'reader: frozen mid-stream; resumes after the last message it emitted, in order, no duplicate',
    async () => {
      const topic = uniqueTopic('freeze-read');
      const payloads = range(1000);
      await publishAll(target, topic, payloads);
      const proxy = await proxyTo(target.wsUrl);
      const reader = clientFor(proxy.url).reader(topic, { startMessageId: 'earliest', highWaterMark: 50 });
      const reasons = reconnectReasons(reader);
      const read: string[] = [];
      for await (const message of reader) {
        read.push(message.payload.toString());
        if (read.length === 300) proxy.freeze();
        if (read.length === payloads.length) break;
      }
      expect(reasons.some((reason) => reason.includes('silent'))).toBe(true);
      expect(read).toEqual(payloads);
    },
    FROZEN_TEST_TIMEOUT,
  );
});

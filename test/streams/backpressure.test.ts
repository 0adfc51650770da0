/**
 * Backpressure that really bounds memory: with a slow sink the broker's count of delivered-but-unacked
 * messages stays within the stream's high-water mark plus the writes in flight, and the consuming
 * process's heap stays flat over 100 000 messages. Embedded broker (in a child process for the memory
 * check, so its heap is not ours) or real Pulsar (PULSAR_WS_URL).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { ackingSink, PulsarWsClient, type ConsumerMessage } from '../../src/index.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import { externalTarget, uniqueTopic, useTarget, type Target } from '../helpers/target.js';

const target = useTarget();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function clientFor(url: string): PulsarWsClient {
  const client = new PulsarWsClient({ url });
  cleanups.push(() => client.close());
  return client;
}

async function unackedOnBroker(t: Target, topic: string, subscription: string): Promise<number> {
  const response = await fetch(`${t.adminUrl}/admin/v2/persistent/public/default/${topic}/stats`);
  const stats = (await response.json()) as { subscriptions?: Record<string, { unackedMessages?: number }> };
  return stats.subscriptions?.[subscription]?.unackedMessages ?? 0;
}

/** Stops the pipeline (an abort) once `count` messages were written. */
function countingSink(count: number, stop: AbortController, delayMs: number, onWrite?: () => void): Writable {
  let written = 0;
  return new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(_chunk: ConsumerMessage, _encoding, callback) {
      const done = (): void => {
        callback();
        onWrite?.();
        if (++written === count) setImmediate(() => stop.abort());
      };
      if (delayMs > 0) setTimeout(done, delayMs);
      else done();
    },
  });
}

async function runUntilAborted(run: Promise<void>): Promise<void> {
  await run.catch((error: unknown) => {
    if ((error as Error).name !== 'AbortError') throw error;
  });
}

describe('backpressure', () => {
  it('slow sink (10 ms a message), highWaterMark 50: the broker never has more than 50 + in-flight unacked', async () => {
    const client = clientFor(target.wsUrl);
    const topic = uniqueTopic('bp');
    await pipeline(Readable.from(Array.from({ length: 300 }, (_, i) => `m${i}`)), client.producer(topic));
    const highWaterMark = 50;
    // In flight between the consumer's buffer and the broker's ack: the acking sink's queue (1), the
    // target's queue (1) and the write in progress (1); and the Pulsar proxy's prefetch (receiverQueueSize 1).
    // Pulsar's proxy also acknowledges through a Java consumer that groups acks for 100 ms
    // (acknowledgementsGroupTime): up to 100 ms / 10 ms = 10 more acks sent but not yet at the broker,
    // 15 with a timer late by half a period on a busy machine.
    const inFlight = 4 + (externalTarget ? 15 : 0);
    const consumer = client.consumer(topic, 's', {
      subscriptionType: 'Shared',
      subscriptionInitialPosition: 'Earliest',
      highWaterMark,
      receiverQueueSize: 1,
    });
    const samples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(await unackedOnBroker(target, topic, 's'));
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    const stop = new AbortController();
    await runUntilAborted(
      pipeline(consumer, ackingSink(countingSink(300, stop, 10), { highWaterMark: 1 }), {
        signal: stop.signal,
      }),
    );
    sampling = false;
    await sampler;
    const most = Math.max(...samples);
    console.log(`slow sink: ${samples.length} samples of the broker's unacked count, at most ${most}`);
    expect(most).toBeLessThanOrEqual(highWaterMark + inFlight);
    // The bound is met because the stream holds the broker back, not because nothing was delivered.
    expect(most).toBeGreaterThanOrEqual(highWaterMark / 2);
  });

  it('memory stays flat while consuming 100 000 messages', async () => {
    let wsUrl = target.wsUrl;
    if (!externalTarget) {
      const dataDir = await mkdtemp(join(tmpdir(), 'pws-memory-'));
      const broker = await startBrokerProcess(['--data-dir', dataDir, '--fsync', 'never']);
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
      cleanups.push(async () => {
        broker.child.kill();
        await broker.exited;
      });
      wsUrl = broker.url;
    }
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const client = clientFor(wsUrl);
    const topic = uniqueTopic('memory');
    const total = 100_000;
    const payload = 'x'.repeat(100);
    await pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < total; i++) yield payload;
        })(),
      ),
      client.producer(topic),
    );
    const heap: number[] = [];
    let written = 0;
    const stop = new AbortController();
    const consumer = client.consumer(topic, 's', {
      subscriptionInitialPosition: 'Earliest',
      highWaterMark: 200,
    });
    await runUntilAborted(
      pipeline(
        consumer,
        ackingSink(
          countingSink(total, stop, 0, () => {
            if (++written % 20_000 === 0) {
              gc();
              heap.push(process.memoryUsage().heapUsed);
            }
          }),
        ),
        { signal: stop.signal },
      ),
    );
    const mb = heap.map((bytes) => Math.round(bytes / 1e5) / 10);
    console.log(`heap after gc every 20 000 messages (MB): ${mb.join(', ')}`);
    expect(heap).toHaveLength(5);
    // Flat: what is retained after 100 000 messages is what was retained after 20 000, give or take.
    expect((heap[4] ?? 0) - (heap[0] ?? 0)).toBeLessThan(10 * 1024 * 1024);
  }, 120_000);
});

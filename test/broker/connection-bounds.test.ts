/**
 * Per-connection bounds of the embedded broker: a consumer that stops reading gets no more than its
 * socket's bound ahead of what it read, while other clients are served; a producer that stops reading
 * its acks is not read either. Checked in-process through what the broker dispatched (admin stats),
 * which an unbounded broker would have sent (and buffered) in full.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { EmbeddedBroker } from '../../src/broker/index.js';
import { textOf } from '../../src/broker/sessions/socket.js';
import { useEmbeddedBrokers } from '../helpers/embedded.js';
import { publishAll } from '../helpers/publish.js';
import { base64 } from '../helpers/ws-client.js';

const startBroker = useEmbeddedBrokers();
const TOPIC = 'persistent/public/default';

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return ws;
}

/** The broker's count of messages dispatched to the subscription and not acknowledged. */
async function unacked(broker: EmbeddedBroker, topic: string, subscription: string): Promise<number> {
  const response = await fetch(`${broker.httpUrl}/admin/v2/${TOPIC}/${topic}/stats`);
  const stats = (await response.json()) as {
    subscriptions: Record<string, { unackedMessages: number }>;
  };
  return stats.subscriptions[subscription]?.unackedMessages ?? 0;
}

async function storedCount(broker: EmbeddedBroker, topic: string): Promise<number> {
  const response = await fetch(`${broker.httpUrl}/admin/v2/${TOPIC}/${topic}/stats`);
  return ((await response.json()) as { msgInCounter: number }).msgInCounter;
}

/** Raw socket of a `ws` client: pausing it makes the client stop reading, as a stalled network does. */
function pauseReading(ws: WebSocket): void {
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
}

describe('outbound bound per connection', () => {
  it('a stalled consumer gets about its bound ahead, and another client is served meanwhile', async () => {
    const broker = await startBroker({ maxOutboundBytesPerConnection: 64 * 1024 });
    const target = { wsUrl: broker.url, adminUrl: broker.httpUrl, embedded: true };
    const payload = 'x'.repeat(100 * 1024);
    const backlog = 400; // 40 MB of payload, 53 MB of frames
    for (let start = 0; start < backlog; start += 50) {
      await publishAll(
        target,
        'stalled',
        Array.from({ length: 50 }, () => payload),
      );
    }
    const stalled = await open(
      `${broker.url}/ws/v2/consumer/${TOPIC}/stalled/sub?subscriptionType=Exclusive&receiverQueueSize=1000&subscriptionInitialPosition=Earliest`,
    );
    pauseReading(stalled);
    await delay(1000);
    const dispatched = await unacked(broker, 'stalled', 'sub');
    // Kernel socket buffers take a few MB; an unbounded broker sends all 400 (its whole window).
    expect(dispatched).toBeLessThan(150);

    const other = await open(`${broker.url}/ws/v2/consumer/${TOPIC}/other/sub?subscriptionType=Exclusive`);
    const received: string[] = [];
    other.on('message', (data) => {
      const frame = JSON.parse(textOf(data)) as { messageId: string; payload: string };
      received.push(frame.payload);
      other.send(JSON.stringify({ messageId: frame.messageId }));
    });
    await publishAll(
      target,
      'other',
      Array.from({ length: 200 }, (_, index) => `m${index}`),
    );
    for (let waited = 0; received.length < 200 && waited < 10_000; waited += 50) await delay(50);
    expect(received).toHaveLength(200);
    other.close();
    stalled.terminate();
  });
});

describe('a producer that does not read its acks', () => {
  it('is not read either, once its unread acks pass the bound', async () => {
    const broker = await startBroker({ maxOutboundBytesPerConnection: 16 * 1024 });
    const producer = await open(`${broker.url}/ws/v2/producer/${TOPIC}/unread-acks`);
    pauseReading(producer);
    const frame = JSON.stringify({ payload: base64('m'), context: 'c' });
    // 100,000 small publishes: their acks (about 80 bytes each) are more than the kernel buffers hold.
    for (let sent = 0; sent < 100_000; sent++) {
      producer.send(frame);
      if (producer.bufferedAmount > 1024 * 1024) await delay(5);
      if (sent % 10_000 === 0 && producer.bufferedAmount > 8 * 1024 * 1024) break;
    }
    // Stored until it is paused; an unbounded broker stores all 100,000 (and holds their acks).
    let stored = -1;
    for (let previous = -2; stored !== previous && stored < 100_000;) {
      previous = stored;
      await delay(1000);
      stored = await storedCount(broker, 'unread-acks');
    }
    const msgInCounter = stored;
    // Stored only as far as the acks it does not read fit the kernel's buffers and the bound.
    expect(msgInCounter).toBeLessThan(100_000);
    expect(msgInCounter).toBeGreaterThan(0);
    producer.terminate();
  });
});

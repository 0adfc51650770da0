/** The consumer Readable in pull mode against the embedded broker: permits bound the buffer. */
import { afterEach, describe, expect, it } from 'vitest';
import { WsSession } from '../../src/client/session.js';
import { ConsumerStream } from '../../src/streams/consumer-stream.js';
import type { ConsumerMessage } from '../../src/streams/consumer-message.js';
import { useEmbeddedBrokers } from '../helpers/embedded.js';
import { publishAll, range } from '../helpers/publish.js';
import type { Target } from '../helpers/target.js';

const startBroker = useEmbeddedBrokers();
const streams: ConsumerStream[] = [];
afterEach(() => {
  for (const stream of streams.splice(0)) stream.destroy();
});

function consumer(url: string, highWaterMark: number): ConsumerStream {
  const stream = new ConsumerStream(
    new WsSession({
      url: `${url}?pullMode=true&subscriptionInitialPosition=Earliest&subscriptionType=Shared`,
    }),
    { highWaterMark },
  );
  streams.push(stream);
  return stream;
}

const path = (topic: string) => `/ws/v2/consumer/persistent/public/default/${topic}/sub`;

describe('ConsumerStream', () => {
  it('for await reads every message with its fields; acks make them gone for good', async () => {
    const broker = await startBroker();
    const target: Target = { wsUrl: broker.url, adminUrl: broker.httpUrl, embedded: true };
    await publishAll(target, 'c1', range(30), { key: (i) => `k${i}`, properties: (i) => ({ i: String(i) }) });
    const stream = consumer(`${broker.url}${path('c1')}`, 8);
    const seen: ConsumerMessage[] = [];
    for await (const message of stream) {
      seen.push(message);
      message.ack();
      message.ack(); // idempotent
      if (seen.length === 30) break;
    }
    expect(seen.map((m) => m.payload.toString())).toEqual(range(30));
    expect(seen[3]).toMatchObject({ key: 'k3', properties: { i: '3' }, redeliveryCount: 0 });
    expect(seen[3]?.publishTime).toBeInstanceOf(Date);
    const again = consumer(`${broker.url}${path('c1')}`, 8);
    await publishAll(target, 'c1', ['after']);
    for await (const message of again) {
      expect(message.payload.toString()).toBe('after');
      break;
    }
  });

  it('a reader that does not read holds the broker back: buffered messages never exceed the high-water mark', async () => {
    const broker = await startBroker();
    const target: Target = { wsUrl: broker.url, adminUrl: broker.httpUrl, embedded: true };
    await publishAll(target, 'c2', range(50));
    const stream = consumer(`${broker.url}${path('c2')}`, 10);
    stream.pause();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stream.readableLength).toBeLessThanOrEqual(10);
    expect(stream.readableLength).toBeGreaterThan(0);
  });

  it('messages not acked before the stream is destroyed are redelivered', async () => {
    const broker = await startBroker();
    const target: Target = { wsUrl: broker.url, adminUrl: broker.httpUrl, embedded: true };
    await publishAll(target, 'c3', range(3));
    const first = consumer(`${broker.url}${path('c3')}`, 4);
    for await (const message of first) {
      expect(message.payload.toString()).toBe('m0');
      break; // no ack
    }
    const second = consumer(`${broker.url}${path('c3')}`, 4);
    const payloads: string[] = [];
    for await (const message of second) {
      payloads.push(message.payload.toString());
      message.ack();
      if (payloads.length === 3) break;
    }
    expect(payloads.sort()).toEqual(range(3));
  });

  it('stopPermits(): messages already asked for arrive, nothing more is asked for', async () => {
    const broker = await startBroker();
    const target: Target = { wsUrl: broker.url, adminUrl: broker.httpUrl, embedded: true };
    await publishAll(target, 'c-stop', range(30));
    const stream = consumer(`${broker.url}${path('c-stop')}`, 8);
    await new Promise((resolve) => stream.once('readable', resolve));
    stream.stopPermits();
    const asked = stream.readableLength + stream.permitsOutstanding;
    const seen: ConsumerMessage[] = [];
    // Read what comes until every permit granted before the stop is used up.
    while (stream.permitsOutstanding > 0 || stream.readableLength > 0) {
      const message = stream.read() as ConsumerMessage | null;
      if (message === null) await new Promise((resolve) => stream.once('readable', resolve));
      else seen.push(message);
    }
    expect(seen).toHaveLength(asked);
    expect(asked).toBeLessThanOrEqual(8);
    expect(stream.permitsOutstanding).toBe(0);
  });
});

/**
 * The stream contract, for the producer Writable and the consumer and reader Readables: pipeline
 * success and failure, `for await` with `break`, destroy with messages in flight, errors never
 * swallowed, no listener leaks. Runs against the embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ackingSink,
  ConnectError,
  InvalidArgumentError,
  PulsarWsClient,
  type ConsumerMessage,
  type SessionState,
} from '../../src/index.js';
import { publishAll, range } from '../helpers/publish.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const clients: PulsarWsClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

function newClient(options: { reconnect?: false } = {}): PulsarWsClient {
  const client = new PulsarWsClient({ url: target.wsUrl, reconnect: { maxDelayMs: 500 }, ...options });
  clients.push(client);
  return client;
}

const earliestShared = { subscriptionType: 'Shared', subscriptionInitialPosition: 'Earliest' } as const;

function sinkOf(written: string[], failAt?: number): Writable {
  return new Writable({
    objectMode: true,
    write(chunk: ConsumerMessage | string, _encoding, callback) {
      if (written.length === failAt) {
        callback(new Error(`sink refused write ${failAt}`));
        return;
      }
      written.push(typeof chunk === 'string' ? chunk : chunk.payload.toString());
      callback();
    },
  });
}

/** Resolves once the stream's session is connected. */
function connected(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) =>
    stream.on('state', (state: SessionState) => {
      if (state === 'connected') resolve();
    }),
  );
}

/** Resolves once the stream reports its session closed. */
function sessionClosed(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) =>
    stream.on('state', (state: SessionState) => {
      if (state === 'closed') resolve();
    }),
  );
}

/** The payloads a fresh consumer of `subscription` gets within `count` messages (acking them). */
async function redelivered(client: PulsarWsClient, topic: string, subscription: string, count: number) {
  const payloads: string[] = [];
  for await (const message of client.consumer(topic, subscription, earliestShared)) {
    payloads.push(message.payload.toString());
    message.ack();
    if (payloads.length === count) break;
  }
  return payloads.sort();
}

describe('producer Writable contract', () => {
  it('pipeline success: resolves after every message is acked', async () => {
    const client = newClient();
    const producer = client.producer(uniqueTopic('pc'));
    let acks = 0;
    producer.on('ack', () => acks++);
    await pipeline(Readable.from(range(500)), producer);
    expect(acks).toBe(500);
    expect(producer.destroyed).toBe(true);
  });

  it('pipeline failure: a failing source rejects the pipeline and closes the session', async () => {
    const client = newClient();
    const producer = client.producer(uniqueTopic('pc'));
    const closed = sessionClosed(producer);
    function* failing() {
      yield 'a';
      yield 'b';
      throw new Error('source broke');
    }
    await expect(pipeline(Readable.from(failing()), producer)).rejects.toThrow('source broke');
    await closed;
  });

  it('destroy with messages in flight closes without an unhandled error', async () => {
    const client = newClient();
    const producer = client.producer(uniqueTopic('pc'), { maxInFlight: 1000 });
    await connected(producer);
    for (const payload of range(200)) producer.write(payload);
    producer.destroy();
    await once(producer, 'close');
    expect(producer.errored).toBeNull();
  });

  it('errors are never swallowed: an oversize message fails its write and the stream', async () => {
    const client = newClient();
    const producer = client.producer(uniqueTopic('pc'), { maxFrameBytes: 1000 });
    const failed = once(producer, 'error');
    const written = new Promise<Error | null | undefined>((resolve) =>
      producer.write(Buffer.alloc(2000), resolve),
    );
    expect(await written).toBeInstanceOf(InvalidArgumentError);
    const [error] = (await failed) as [Error];
    expect(error.message).toMatch(/over the 1000-byte limit/);
  });

  it('errors are never swallowed: a refused connection errors the stream (no reconnect)', async () => {
    const client = newClient({ reconnect: false });
    const topic = uniqueTopic('pc');
    const first = client.producer(topic, { producerName: 'only-one' });
    await connected(first);
    const second = client.producer(topic, { producerName: 'only-one' });
    const [error] = (await once(second, 'error')) as [ConnectError];
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.status).toBe(409);
  });
});

describe('consumer Readable contract', () => {
  it('pipeline success: a stage that stops early ends the pipeline; everything written is acked', async () => {
    const client = newClient();
    const topic = uniqueTopic('cc');
    await publishAll(target, topic, range(50));
    const written: string[] = [];
    await pipeline(
      client.consumer(topic, 's', earliestShared),
      async function* (messages: AsyncIterable<ConsumerMessage>) {
        let count = 0;
        for await (const message of messages) {
          yield message;
          if (++count === 50) return;
        }
      },
      ackingSink(sinkOf(written)),
    );
    expect(written).toEqual(range(50));
    await publishAll(target, topic, ['next']);
    expect(await redelivered(client, topic, 's', 1)).toEqual(['next']);
  });

  it('pipeline failure: the sink error rejects the pipeline; what was not written comes again', async () => {
    const client = newClient();
    const topic = uniqueTopic('cc');
    await publishAll(target, topic, range(30));
    const written: string[] = [];
    const consumer = client.consumer(topic, 's', { ...earliestShared, highWaterMark: 10 });
    const closed = sessionClosed(consumer);
    await expect(pipeline(consumer, ackingSink(sinkOf(written, 7)))).rejects.toThrow('sink refused write 7');
    await closed;
    expect(await redelivered(client, topic, 's', 23)).toEqual(range(30).slice(7).sort());
  });

  it('for await with break closes the session; unacked messages come again', async () => {
    const client = newClient();
    const topic = uniqueTopic('cc');
    await publishAll(target, topic, range(20));
    const consumer = client.consumer(topic, 's', { ...earliestShared, closeGraceMs: 0 });
    const closed = sessionClosed(consumer);
    let count = 0;
    for await (const message of consumer) {
      if (count < 5) message.ack();
      if (++count === 10) break;
    }
    await closed;
    expect(await redelivered(client, topic, 's', 15)).toEqual(range(20).slice(5).sort());
  });

  it('destroy with messages buffered acks nothing', async () => {
    const client = newClient();
    const topic = uniqueTopic('cc');
    await publishAll(target, topic, range(40));
    const consumer = client.consumer(topic, 's', { ...earliestShared, highWaterMark: 40 });
    consumer.pause();
    await once(consumer, 'readable');
    consumer.destroy();
    await once(consumer, 'close');
    expect(consumer.errored).toBeNull();
    expect(await redelivered(client, topic, 's', 40)).toEqual(range(40).sort());
  });

  it('errors are never swallowed: a refused subscription errors the stream', async () => {
    const client = newClient({ reconnect: false });
    const topic = uniqueTopic('cc');
    const first = client.consumer(topic, 'ex', { subscriptionType: 'Exclusive' });
    await connected(first);
    const second = client.consumer(topic, 'ex', { subscriptionType: 'Exclusive' });
    const [error] = (await once(second, 'error')) as [ConnectError];
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.status).toBe(409);
  });
});

describe('reader Readable contract', () => {
  it('pipeline success: with stopAtEnd the pipeline completes with every message', async () => {
    const client = newClient();
    const topic = uniqueTopic('rc');
    await publishAll(target, topic, range(120));
    const written: string[] = [];
    await pipeline(
      client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true, highWaterMark: 10 }),
      sinkOf(written),
    );
    expect(written).toEqual(range(120));
  });

  it('pipeline failure: the sink error rejects the pipeline and closes the session', async () => {
    const client = newClient();
    const topic = uniqueTopic('rc');
    await publishAll(target, topic, range(20));
    const reader = client.reader(topic, { startMessageId: 'earliest' });
    const closed = sessionClosed(reader);
    await expect(pipeline(reader, sinkOf([], 3))).rejects.toThrow('sink refused write 3');
    await closed;
  });

  it('for await with break closes the session; destroy mid-flow closes cleanly', async () => {
    const client = newClient();
    const topic = uniqueTopic('rc');
    await publishAll(target, topic, range(20));
    const reader = client.reader(topic, { startMessageId: 'earliest', highWaterMark: 5 });
    const closed = sessionClosed(reader);
    let count = 0;
    for await (const message of reader) {
      expect(message.payload.toString()).toBe(`m${count}`);
      if (++count === 8) break;
    }
    await closed;
    const second = client.reader(topic, { startMessageId: 'earliest', highWaterMark: 5 });
    await once(second, 'readable');
    second.destroy();
    await once(second, 'close');
    expect(second.errored).toBeNull();
  });

  it('errors are never swallowed: stopAtEnd on a missing topic errors the stream with the status', async () => {
    const client = newClient();
    const reader = client.reader(uniqueTopic('missing'), { startMessageId: 'earliest', stopAtEnd: true });
    const [error] = (await once(reader, 'error')) as [ConnectError];
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.status).toBe(404);
  });
});

describe('reader stopAtEnd on a partitioned topic', () => {
  it('reads every partition to its end as of the start (test/streams/partitioned-reader.test.ts has more)', async () => {
    const client = newClient();
    const topic = uniqueTopic('rp');
    const created = await fetch(`${target.adminUrl}/admin/v2/persistent/public/default/${topic}/partitions`, {
      method: 'PUT',
      body: '2',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(created.status).toBe(204);
    await publishAll(target, topic, range(10), { key: (i) => `k${i}` });
    const read = await client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true }).toArray();
    expect(read.map((m) => m.payload.toString()).sort()).toEqual(range(10).sort());
  });
});

describe('no listener leaks', () => {
  it('50 producer → consumer round trips leave no listeners behind and no warnings', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const client = newClient();
      const topic = uniqueTopic('leak');
      const baseline = process.listenerCount('exit') + process.listenerCount('SIGINT');
      for (let round = 0; round < 50; round++) {
        await pipeline(Readable.from([`r${round}`]), client.producer(topic));
        const written: string[] = [];
        await pipeline(
          client.consumer(topic, 's', earliestShared),
          async function* (messages: AsyncIterable<ConsumerMessage>) {
            for await (const message of messages) {
              yield message;
              return;
            }
          },
          ackingSink(sinkOf(written)),
        );
        expect(written).toEqual([`r${round}`]);
      }
      expect(process.listenerCount('exit') + process.listenerCount('SIGINT')).toBeLessThanOrEqual(baseline);
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

/**
 * The streams' bookkeeping against a session driven by hand: the consumer's permit arithmetic and
 * acks (replayed after a reconnect), the producer's window, its end() bound and its destroy, and the
 * heartbeat, with fake timers where time matters.
 */
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat } from '../../src/client/heartbeat.js';
import { ClosedError, ProtocolError, SendError, TimeoutError } from '../../src/errors.js';
import { encodeMessageId, messageIdOf } from '../../src/protocol/index.js';
import { ConsumerStream } from '../../src/streams/consumer-stream.js';
import type { ConsumerMessage } from '../../src/streams/consumer-message.js';
import { ProducerStream } from '../../src/streams/producer-stream.js';
import { FakeSession } from '../helpers/fake-session.js';

afterEach(() => {
  vi.useRealTimers();
});

function messageFrame(entryId: number): Record<string, unknown> {
  return {
    messageId: encodeMessageId(messageIdOf(1, entryId)),
    payload: Buffer.from(`m${entryId}`).toString('base64'),
    properties: {},
    publishTime: '2026-01-01T00:00:00Z',
    redeliveryCount: 0,
  };
}

function permitsGranted(session: FakeSession): number[] {
  return session.sentOfType('permit').map((frame) => frame.permitMessages as number);
}

async function connectedConsumer(
  highWaterMark: number,
): Promise<{ session: FakeSession; consumer: ConsumerStream }> {
  const session = new FakeSession();
  const consumer = new ConsumerStream(session, { highWaterMark, closeGraceMs: 0 });
  session.establish();
  await tick();
  return { session, consumer };
}

describe('consumer permits', () => {
  it('asks for exactly the free room, then refills in batches of at least half the high-water mark', async () => {
    const { session, consumer } = await connectedConsumer(10);
    consumer.read(0);
    expect(permitsGranted(session)).toEqual([10]);
    for (let entry = 0; entry < 10; entry++) session.deliver(messageFrame(entry));
    expect(consumer.readableLength).toBe(10);
    // Room 1 with 0 outstanding: asked at once, or no message would ever come to call _read again.
    consumer.read();
    expect(permitsGranted(session)).toEqual([10, 1]);
    // Room 1 more with 1 outstanding: under the threshold (5), so no frame.
    consumer.read();
    expect(permitsGranted(session)).toEqual([10, 1]);
    for (let i = 0; i < 4; i++) consumer.read();
    // Buffered 4 + outstanding 1: room 5 = the threshold.
    expect(permitsGranted(session)).toEqual([10, 1, 5]);
    const granted = permitsGranted(session).reduce((sum, n) => sum + n, 0);
    expect(consumer.readableLength + granted - 10).toBeLessThanOrEqual(10);
    consumer.destroy();
  });

  it('forgets outstanding permits when the connection is lost and grants the room again on reconnect', async () => {
    const { session, consumer } = await connectedConsumer(8);
    consumer.read(0);
    session.deliver(messageFrame(0));
    session.deliver(messageFrame(1));
    session.drop();
    session.establish();
    // Buffered 2: the new connection gets the other 6.
    expect(permitsGranted(session)).toEqual([8, 6]);
    consumer.destroy();
  });
});

describe('consumer acks', () => {
  it('ack and nack are idempotent and exclusive; each sends one frame', async () => {
    const { session, consumer } = await connectedConsumer(4);
    consumer.read(0);
    session.deliver(messageFrame(0));
    session.deliver(messageFrame(1));
    const first = consumer.read() as ConsumerMessage;
    const second = consumer.read() as ConsumerMessage;
    first.ack();
    first.ack();
    first.nack();
    second.nack();
    second.ack();
    expect(session.sentOfType('ack').map((frame) => frame.messageId)).toEqual([first.messageId]);
    expect(session.sentOfType('negativeAcknowledge').map((frame) => frame.messageId)).toEqual([
      second.messageId,
    ]);
    consumer.destroy();
  });

  it('replays recent acks after a reconnect and acks a redelivery of an acked message instead of emitting it', async () => {
    const { session, consumer } = await connectedConsumer(4);
    consumer.read(0);
    session.deliver(messageFrame(0));
    const written = consumer.read() as ConsumerMessage;
    session.drop();
    // The ack finds no connection: it is lost, as one sent into a silent path would be.
    written.ack();
    expect(session.sentOfType('ack')).toEqual([]);
    session.establish();
    expect(session.sentOfType('ack').map((frame) => frame.messageId)).toEqual([written.messageId]);
    // The server redelivers it anyway (the replay raced the redelivery): acked again, not emitted.
    session.deliver({ ...messageFrame(0), redeliveryCount: 1 });
    session.deliver(messageFrame(1));
    expect(consumer.readableLength).toBe(1);
    expect((consumer.read() as ConsumerMessage).payload.toString()).toBe('m1');
    expect(session.sentOfType('ack')).toHaveLength(2);
    consumer.destroy();
  });

  it('a frame that fails validation destroys the stream with a ProtocolError', async () => {
    const { session, consumer } = await connectedConsumer(4);
    const failed = new Promise<Error>((resolve) => consumer.once('error', resolve));
    session.deliver({ ...messageFrame(0), payload: undefined });
    const error = await failed;
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).field).toBe('payload');
  });
});

async function connectedProducer(
  options: ConstructorParameters<typeof ProducerStream>[1],
): Promise<{ session: FakeSession; producer: ProducerStream }> {
  const session = new FakeSession();
  const producer = new ProducerStream(session, options);
  session.establish();
  await tick();
  return { session, producer };
}

function ack(session: FakeSession, context: unknown, entryId = 0): void {
  session.deliver({
    result: 'ok',
    messageId: encodeMessageId(messageIdOf(1, entryId)),
    context,
    errorCode: 0,
    schemaVersion: 0,
  });
}

describe('producer window', () => {
  it('holds the write past maxInFlight until an ack frees a slot; acks correlate by context, in any order', async () => {
    const { session, producer } = await connectedProducer({ maxInFlight: 2 });
    const done: string[] = [];
    producer.write('a', () => done.push('a'));
    producer.write('b', () => done.push('b'));
    producer.write('c', () => done.push('c'));
    await tick();
    expect(session.sent.map((frame) => frame.context)).toEqual(['0', '1']);
    expect(done).toEqual(['a']);
    ack(session, '1', 1);
    await tick();
    expect(done).toEqual(['a', 'b']);
    expect(session.sent.map((frame) => frame.context)).toEqual(['0', '1', '2']);
    const finished = new Promise<void>((resolve) => producer.once('finish', resolve));
    producer.end();
    ack(session, '0', 0);
    ack(session, '2', 2);
    await finished;
    expect(done).toEqual(['a', 'b', 'c']);
  });

  it('resends what is unacknowledged, in order, after a reconnect', async () => {
    const { session, producer } = await connectedProducer({});
    producer.write('a');
    producer.write('b');
    await tick();
    ack(session, '0');
    session.drop();
    session.establish();
    expect(session.sent.map((frame) => frame.context)).toEqual(['0', '1', '1']);
    producer.destroy();
  });

  it('destroyed with writes waiting: the held one gets the error, the buffered ones an error too', async () => {
    const { producer } = await connectedProducer({ maxInFlight: 1 });
    producer.on('error', () => undefined);
    const results = new Map<string, Error | null | undefined>();
    // With one slot, the first write's callback is held until its ack; the second waits in the buffer.
    producer.write('a', (error) => results.set('a', error));
    producer.write('b', (error) => results.set('b', error));
    await tick();
    expect(results.size).toBe(0);
    const failure = new SendError('send-error:8', 'boom', '0');
    producer.destroy(failure);
    await tick();
    expect(results.get('a')).toBe(failure);
    expect(results.get('b')).toBeInstanceOf(Error);
  });

  it('destroyed without an error while a write is held: the callback gets a ClosedError', async () => {
    const { producer } = await connectedProducer({ maxInFlight: 1 });
    let result: Error | null | undefined;
    producer.write('a', (error) => (result = error));
    await tick();
    producer.destroy();
    await tick();
    expect(result).toBeInstanceOf(ClosedError);
    expect(result?.message).toMatch(/destroyed with 1 message\(s\) unacknowledged/);
  });

  it('end() is bounded by finishTimeoutMs: a TimeoutError, no finish', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { producer } = await connectedProducer({ finishTimeoutMs: 5_000 });
    const failed = new Promise<Error>((resolve) => producer.once('error', resolve));
    let finished = false;
    producer.once('finish', () => (finished = true));
    producer.end('never acked');
    await tick();
    await tick();
    vi.advanceTimersByTime(5_000);
    const error = await failed;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toMatch(/did not acknowledge 1 message\(s\) within 5000 ms/);
    expect(finished).toBe(false);
  });

  it('an ack that fails validation destroys the stream with a ProtocolError', async () => {
    const { session, producer } = await connectedProducer({});
    const failed = new Promise<Error>((resolve) => producer.once('error', resolve));
    producer.write('a');
    session.deliver('[]');
    expect(await failed).toBeInstanceOf(ProtocolError);
  });
});

describe('heartbeat', () => {
  it('pings every interval; a ping with nothing heard back within the timeout reports the path silent', () => {
    vi.useFakeTimers();
    const ping = vi.fn();
    const silent = vi.fn();
    const heartbeat = new Heartbeat({ intervalMs: 1_000, timeoutMs: 500 }, ping, silent);
    heartbeat.start();
    vi.advanceTimersByTime(1_000);
    expect(ping).toHaveBeenCalledTimes(1);
    heartbeat.heard();
    vi.advanceTimersByTime(1_000);
    expect(ping).toHaveBeenCalledTimes(2);
    expect(silent).not.toHaveBeenCalled();
    // Nothing heard after the second ping: silent once its timeout passes, and no more pings.
    vi.advanceTimersByTime(499);
    expect(silent).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(silent).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10_000);
    expect(ping).toHaveBeenCalledTimes(2);
  });

  it('a timeout longer than the interval: pings go on, each with its own deadline', () => {
    vi.useFakeTimers();
    const ping = vi.fn();
    const silent = vi.fn();
    const heartbeat = new Heartbeat({ intervalMs: 100, timeoutMs: 1_000 }, ping, silent);
    heartbeat.start();
    vi.advanceTimersByTime(1_050);
    expect(ping).toHaveBeenCalledTimes(10);
    expect(silent).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(silent).toHaveBeenCalledTimes(1);
    heartbeat.stop();
  });

  it('a path that goes silent just after an answer is judged within interval + timeout', () => {
    vi.useFakeTimers();
    const silent = vi.fn();
    const heartbeat = new Heartbeat({ intervalMs: 1_000, timeoutMs: 2_000 }, () => undefined, silent);
    heartbeat.start();
    vi.advanceTimersByTime(1_000); // ping 1
    vi.advanceTimersByTime(10);
    heartbeat.heard(); // its pong, then nothing more: the silence starts at 1 010 ms
    vi.advanceTimersByTime(1_000 + 2_000 - 10 - 1);
    expect(silent).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    // Ping 2 went out at 2 000 ms into the silence; its deadline at 4 000 ms: 2 990 ms after the pong.
    expect(silent).toHaveBeenCalledTimes(1);
  });

  it('interval 0 disables it', () => {
    vi.useFakeTimers();
    const ping = vi.fn();
    const heartbeat = new Heartbeat({ intervalMs: 0, timeoutMs: 1_000 }, ping, vi.fn());
    heartbeat.start();
    vi.advanceTimersByTime(60_000);
    expect(ping).not.toHaveBeenCalled();
  });
});

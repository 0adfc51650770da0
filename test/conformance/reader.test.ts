/**
 * Reader endpoint (docs/protocol.md §6): start positions (exclusive), any-frame-is-credit flow control,
 * isEndOfTopic, and its handshake statuses (every failure is a 500).
 */
import type { DeliveredMessage } from '../../src/protocol/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { publishAll, range } from '../helpers/publish.js';
import { readerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { base64, fromBase64, handshakeStatus, SocketPool } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

type Delivered = DeliveredMessage;

describe('reader start positions', () => {
  it('earliest reads the whole topic in order, with the producer ack ids', async () => {
    const topic = uniqueTopic();
    const published = await publishAll(target, topic, range(15));
    const reader = await pool.open(readerUrl(target, topic, '?messageId=earliest'));
    const messages = await reader.take<Delivered>(15);
    expect(messages.map((m) => m.messageId)).toEqual(published.map((p) => p.messageId));
    expect(messages.every((m) => m.redeliveryCount === 0)).toBe(true);
  });

  it('latest (the default) reads only what is published after it connected', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, ['old']);
    const reader = await pool.open(readerUrl(target, topic));
    await publishAll(target, topic, ['new']);
    const [message] = await reader.take<Delivered>(1);
    expect(fromBase64(message?.payload ?? '')).toBe('new');
    expect(await reader.drain()).toEqual([]);
  });

  it('a message id starts after that message (exclusive)', async () => {
    const topic = uniqueTopic();
    const published = await publishAll(target, topic, range(6));
    const start = encodeURIComponent(published[2]?.messageId ?? '');
    const reader = await pool.open(readerUrl(target, topic, `?messageId=${start}`));
    const messages = await reader.take<Delivered>(3);
    expect(messages.map((m) => fromBase64(m.payload))).toEqual(['m3', 'm4', 'm5']);
  });

  it('a message id of the last message reads only new messages', async () => {
    const topic = uniqueTopic();
    const published = await publishAll(target, topic, range(2));
    const reader = await pool.open(
      readerUrl(target, topic, `?messageId=${encodeURIComponent(published[1]?.messageId ?? '')}`),
    );
    expect(await reader.drain()).toEqual([]);
    await publishAll(target, topic, ['after']);
    expect(fromBase64((await reader.next<Delivered>()).payload)).toBe('after');
  });

  it('two readers do not affect each other or any subscription', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(3));
    const a = await pool.open(readerUrl(target, topic, '?messageId=earliest'));
    const b = await pool.open(readerUrl(target, topic, '?messageId=earliest'));
    expect((await a.take<Delivered>(3)).map((m) => fromBase64(m.payload))).toEqual(['m0', 'm1', 'm2']);
    expect((await b.take<Delivered>(3)).map((m) => fromBase64(m.payload))).toEqual(['m0', 'm1', 'm2']);
  });
});

describe('reader flow control (docs/protocol.md §6.2)', () => {
  it('stops after receiverQueueSize unacknowledged messages; any frame is one credit', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(10));
    const reader = await pool.open(readerUrl(target, topic, '?messageId=earliest&receiverQueueSize=3'));
    await reader.take(3);
    expect(await reader.drain()).toEqual([]);
    reader.send({ messageId: 'bogus' }); // never parsed by a reader
    await reader.take(1);
    reader.send({ type: 'permit', permitMessages: 100 }); // not a command for readers: one credit
    await reader.take(1);
    expect(await reader.drain()).toEqual([]);
  });

  it('isEndOfTopic answers a JSON boolean and is not a credit', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(3));
    const reader = await pool.open(readerUrl(target, topic, '?messageId=earliest&receiverQueueSize=1'));
    await reader.take(1);
    reader.send({ type: 'isEndOfTopic' });
    expect(await reader.next()).toEqual({ endOfTopic: false });
    expect(await reader.drain()).toEqual([]);
  });

  it('invalid JSON drops the connection (1006)', async () => {
    const topic = uniqueTopic();
    const reader = await pool.open(readerUrl(target, topic, '?messageId=earliest'));
    reader.send('{oops');
    expect((await reader.closed).code).toBe(1006);
  });
});

describe('reader handshake: every failure is a 500', () => {
  it('a message id that is not base64', async () => {
    expect(await handshakeStatus(readerUrl(target, uniqueTopic(), '?messageId=not-an-id!'))).toBe(500);
  });

  it('a message id that is base64 but not a MessageIdData', async () => {
    expect(
      await handshakeStatus(
        readerUrl(target, uniqueTopic(), `?messageId=${encodeURIComponent(base64('junk!!'))}`),
      ),
    ).toBe(500);
  });

  it('a negative receiverQueueSize', async () => {
    expect(await handshakeStatus(readerUrl(target, uniqueTopic(), '?receiverQueueSize=-1'))).toBe(500);
  });

  it('a non-numeric receiverQueueSize', async () => {
    expect(await handshakeStatus(readerUrl(target, uniqueTopic(), '?receiverQueueSize=lots'))).toBe(500);
  });
});

/**
 * Consumer endpoint (docs/protocol.md §4): delivered frames, acks, initial position, push/pull flow control,
 * redelivery of unacked messages, command errors and handshake statuses.
 */
import type { DeliveredMessage } from '../../src/protocol/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { publishAll, range } from '../helpers/publish.js';
import { consumerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { base64, fromBase64, handshakeStatus, SocketPool } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

type Delivered = DeliveredMessage;

/** Opens a consumer whose subscription starts at the earliest message. */
function openEarliest(topic: string, subscription: string, query = '') {
  return pool.open(consumerUrl(target, topic, subscription, `?subscriptionInitialPosition=Earliest${query}`));
}

describe('consumer delivery', () => {
  it('delivers the §4.2 frame: fields, types, key, properties, eventTime, and the ack id', async () => {
    const topic = uniqueTopic();
    const consumer = await openEarliest(topic, 'sub');
    const before = Date.now();
    const [published] = await publishAll(target, topic, ['hello'], {
      key: () => 'k1',
      properties: () => ({ a: '1' }),
      eventTime: '2024-05-01T10:00:00.5+02:00',
    });
    const message = await consumer.next<Delivered>();
    expect(Object.keys(message).sort()).toEqual(
      ['eventTime', 'key', 'messageId', 'payload', 'properties', 'publishTime', 'redeliveryCount'].sort(),
    );
    expect(message.messageId).toBe(published?.messageId);
    expect(fromBase64(message.payload)).toBe('hello');
    expect(message.properties).toEqual({ a: '1' });
    expect(message.key).toBe('k1');
    expect(message.redeliveryCount).toBe(0);
    expect(Date.parse(message.eventTime ?? '')).toBe(Date.parse('2024-05-01T08:00:00.5Z'));
    const publishTime = Date.parse(message.publishTime);
    expect(publishTime).toBeGreaterThanOrEqual(before - 5000);
    expect(publishTime).toBeLessThanOrEqual(Date.now() + 5000);
    expect(message.publishTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  });

  it('omits key and eventTime when the message has none, and sends properties as {}', async () => {
    const topic = uniqueTopic();
    const consumer = await openEarliest(topic, 'sub');
    await publishAll(target, topic, ['plain']);
    const message = await consumer.next<Delivered>();
    expect(message).not.toHaveProperty('key');
    expect(message).not.toHaveProperty('eventTime');
    expect(message.properties).toEqual({});
  });

  it('starts a new subscription at Latest by default', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, ['old']);
    const consumer = await pool.open(consumerUrl(target, topic, 'sub'));
    await publishAll(target, topic, ['new']);
    const message = await consumer.next<Delivered>();
    expect(fromBase64(message.payload)).toBe('new');
    expect(await consumer.drain()).toEqual([]);
  });

  it('Earliest delivers the backlog in publish order', async () => {
    const topic = uniqueTopic();
    const published = await publishAll(target, topic, range(20));
    const consumer = await openEarliest(topic, 'sub');
    const messages = await consumer.take<Delivered>(20);
    expect(messages.map((m) => m.messageId)).toEqual(published.map((p) => p.messageId));
  });

  it('redelivers unacknowledged messages to the next consumer, not acknowledged ones', async () => {
    const topic = uniqueTopic();
    const published = await publishAll(target, topic, range(10));
    const first = await openEarliest(topic, 'sub');
    const messages = await first.take<Delivered>(10);
    messages.filter((_, i) => i % 2 === 0).forEach((m) => first.send({ messageId: m.messageId }));
    // The reply to isEndOfTopic comes after the acks were processed.
    first.send({ type: 'isEndOfTopic' });
    expect(await first.next()).toEqual({ endOfTopic: false });
    await first.close();
    const second = await pool.reopen(
      consumerUrl(target, topic, 'sub', '?subscriptionInitialPosition=Earliest'),
    );
    const redelivered = await second.take<Delivered>(5);
    expect(redelivered.map((m) => m.messageId)).toEqual(
      published.filter((_, i) => i % 2 === 1).map((p) => p.messageId),
    );
    expect(await second.drain()).toEqual([]);
  });

  it('isEndOfTopic answers with a JSON boolean', async () => {
    const consumer = await openEarliest(uniqueTopic(), 'sub');
    consumer.send({ type: 'isEndOfTopic' });
    expect(await consumer.next()).toEqual({ endOfTopic: false });
  });
});

describe('consumer flow control (docs/protocol.md §4.4)', () => {
  it('push mode stops after receiverQueueSize unacked messages; each ack lets one more through', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(10));
    const consumer = await openEarliest(topic, 'sub', '&receiverQueueSize=3');
    const firstThree = await consumer.take<Delivered>(3);
    expect(await consumer.drain()).toEqual([]);
    consumer.send({ messageId: firstThree[0]?.messageId });
    await consumer.take(1);
    expect(await consumer.drain()).toEqual([]);
  });

  it('a negative ack also frees a window slot', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(5));
    const consumer = await openEarliest(
      topic,
      'sub',
      '&receiverQueueSize=2&negativeAckRedeliveryDelay=60000',
    );
    const [first] = await consumer.take<Delivered>(2);
    expect(await consumer.drain()).toEqual([]);
    consumer.send({ type: 'negativeAcknowledge', messageId: first?.messageId });
    const [third] = await consumer.take<Delivered>(1);
    expect(fromBase64(third?.payload ?? '')).toBe('m2');
  });

  it('receiverQueueSize=0 gives a window of one', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(3));
    const consumer = await openEarliest(topic, 'sub', '&receiverQueueSize=0');
    const [first] = await consumer.take<Delivered>(1);
    expect(await consumer.drain()).toEqual([]);
    consumer.send({ messageId: first?.messageId });
    await consumer.take(1);
  });

  it('an ack with an unknown id still counts for flow control', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(3));
    const consumer = await openEarliest(topic, 'sub', '&receiverQueueSize=1');
    await consumer.take(1);
    consumer.send({ messageId: 'CGQQZDAA' }); // ledger 100, entry 100: not a message of this topic
    await consumer.take(1);
  });

  it('pull mode delivers nothing before a permit, then exactly the permits (docs/protocol.md §14 scenario 13)', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(10));
    const consumer = await openEarliest(topic, 'sub', '&pullMode=true');
    expect(await consumer.drain()).toEqual([]);
    consumer.send({ type: 'permit', permitMessages: 3 });
    await consumer.take(3);
    expect(await consumer.drain()).toEqual([]);
    for (let i = 0; i < 3; i++) consumer.send({ type: 'permit', permitMessages: 2 });
    const six = await consumer.take<Delivered>(6);
    expect(six.map((m) => fromBase64(m.payload))).toEqual(['m3', 'm4', 'm5', 'm6', 'm7', 'm8']);
    expect(await consumer.drain()).toEqual([]);
  });

  it('pull mode: acks do not grant credit', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(5));
    const consumer = await openEarliest(topic, 'sub', '&pullMode=true');
    consumer.send({ type: 'permit', permitMessages: 1 });
    const [first] = await consumer.take<Delivered>(1);
    consumer.send({ messageId: first?.messageId });
    expect(await consumer.drain()).toEqual([]);
  });

  it('push mode ignores permits', async () => {
    const topic = uniqueTopic();
    await publishAll(target, topic, range(5));
    const consumer = await openEarliest(topic, 'sub', '&receiverQueueSize=1');
    await consumer.take(1);
    consumer.send({ type: 'permit', permitMessages: 10 });
    expect(await consumer.drain()).toEqual([]);
  });
});

describe('consumer command errors (docs/protocol.md §4.3)', () => {
  async function consumerWithOneMessage() {
    const topic = uniqueTopic();
    await publishAll(target, topic, ['x']);
    const consumer = await openEarliest(topic, 'sub');
    await consumer.take(1);
    return consumer;
  }

  it('invalid JSON drops the connection (1006); the broker goes on serving other connections', async () => {
    const consumer = await consumerWithOneMessage();
    consumer.send('{not json');
    expect((await consumer.closed).code).toBe(1006);
    const [published] = await publishAll(target, uniqueTopic(), ['after']);
    expect(published?.messageId).toBeDefined();
  });

  it('permit without permitMessages drops the connection (1006)', async () => {
    const consumer = await consumerWithOneMessage();
    consumer.send({ type: 'permit' });
    expect((await consumer.closed).code).toBe(1006);
  });

  it('valid base64 that is not a MessageIdData drops the connection (1006)', async () => {
    const consumer = await consumerWithOneMessage();
    consumer.send({ messageId: base64('garbage!') });
    expect((await consumer.closed).code).toBe(1006);
  });

  it('an ack without messageId closes with 1011', async () => {
    const consumer = await consumerWithOneMessage();
    consumer.send({ type: 'ack' });
    expect((await consumer.closed).code).toBe(1011);
  });

  it('an ack with invalid base64 closes with 1011 and the decoder message', async () => {
    const consumer = await consumerWithOneMessage();
    consumer.send({ messageId: 'not-base64' });
    const closed = await consumer.closed;
    expect(closed.code).toBe(1011);
    expect(closed.reason).toMatch(/Illegal base64 character 2d/);
  });
});

describe('consumer handshake', () => {
  it('a second Exclusive consumer on the same subscription is refused with 409 (scenario 5)', async () => {
    const topic = uniqueTopic();
    await pool.open(consumerUrl(target, topic, 'sub'));
    expect(await handshakeStatus(consumerUrl(target, topic, 'sub'))).toBe(409);
  });

  it('an empty subscription name is refused with 400 (scenario 4)', async () => {
    expect(
      await handshakeStatus(`${target.wsUrl}/ws/v2/consumer/persistent/public/default/${uniqueTopic()}/`),
    ).toBe(400);
  });

  for (const [param, value] of [
    ['subscriptionType', 'Broadcast'],
    ['subscriptionMode', 'Sometimes'],
    ['subscriptionInitialPosition', 'Middle'],
    ['receiverQueueSize', 'many'],
    ['receiverQueueSize', '-1'],
    ['ackTimeoutMillis', '500'],
    ['priorityLevel', '-1'],
    ['negativeAckRedeliveryDelay', 'soon'],
    ['maxRedeliverCount', 'x'],
    ['maxRedeliverCount', '0'],
    ['maxRedeliverCount', '-1'],
    ['deadLetterTopic', 'dlq-without-count'],
  ] as const) {
    it(`${param}=${value} is refused with 400`, async () => {
      expect(await handshakeStatus(consumerUrl(target, uniqueTopic(), 'sub', `?${param}=${value}`))).toBe(
        400,
      );
    });
  }

  it('maxRedeliverCount=2 is accepted', async () => {
    expect(await handshakeStatus(consumerUrl(target, uniqueTopic(), 'sub', '?maxRedeliverCount=2'))).toBe(
      101,
    );
  });

  it('an invalid cryptoFailureAction is ignored', async () => {
    expect(
      await handshakeStatus(consumerUrl(target, uniqueTopic(), 'sub', '?cryptoFailureAction=EXPLODE')),
    ).toBe(101);
  });

  it('receiverQueueSize above 1000 is accepted (capped)', async () => {
    expect(await handshakeStatus(consumerUrl(target, uniqueTopic(), 'sub', '?receiverQueueSize=50000'))).toBe(
      101,
    );
  });
});

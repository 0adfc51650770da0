/**
 * Non-persistent topics (issue #3; behaviour observed on Pulsar 4.0.7): nothing is stored, messages
 * reach only consumers and readers connected when they are published, every id is 0:0
 * (`CAAQADAA`), and nothing is redelivered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveredMessage } from '../../src/protocol/index.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { base64, fromBase64, SocketPool } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

const NON_PERSISTENT_ID = 'CAAQADAA';
const path = (kind: string, topic: string) =>
  `${target.wsUrl}/ws/v2/${kind}/non-persistent/public/default/${topic}`;

describe('non-persistent topics', () => {
  it('deliver only to who is connected, with id 0:0, and never redeliver', async () => {
    const topic = uniqueTopic('np');
    const producer = await pool.open(path('producer', topic));
    producer.send({ payload: base64('nobody-listens'), context: 'early' });
    expect(await producer.next()).toMatchObject({
      result: 'ok',
      messageId: NON_PERSISTENT_ID,
      context: 'early',
    });

    const consumer = await pool.open(`${path('consumer', topic)}/sub?subscriptionInitialPosition=Earliest`);
    const reader = await pool.open(`${path('reader', topic)}?messageId=earliest`);
    // Handshakes complete before the broker serves the next publish, so both are attached now.
    for (const payload of ['one', 'two']) {
      producer.send({ payload: base64(payload), context: payload });
      expect(await producer.next()).toMatchObject({ result: 'ok', messageId: NON_PERSISTENT_ID });
    }
    const consumed = await consumer.take<DeliveredMessage>(2);
    const read = await reader.take<DeliveredMessage>(2);
    expect(consumed.map((m) => fromBase64(m.payload))).toEqual(['one', 'two']);
    expect(read.map((m) => fromBase64(m.payload))).toEqual(['one', 'two']);
    expect(new Set([...consumed, ...read].map((m) => m.messageId))).toEqual(new Set([NON_PERSISTENT_ID]));

    await consumer.close();
    const again = await pool.reopen(`${path('consumer', topic)}/sub?subscriptionInitialPosition=Earliest`);
    expect(await again.drain()).toEqual([]);
  });
});

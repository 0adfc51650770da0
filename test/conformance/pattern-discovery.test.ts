/**
 * Pattern consumers (`/ws/v3/consumer/{subscription}?topicsPattern=`) pick up topics created after
 * they connected, as Pulsar 4.0's pattern consumer does (its broker notifies the client of new
 * topics in the namespace). Topics of other names and other namespaces stay out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveredMessage } from '../../src/protocol/index.js';
import { publishAll } from '../helpers/publish.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { fromBase64, SocketPool } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

/** Pulsar's client re-checks the namespace at least every minute; its broker usually tells it sooner. */
const DISCOVERY_TIMEOUT_MS = 75_000;

describe('pattern consumer topic discovery', () => {
  it('a topic created after the consumer connected is consumed too; non-matching ones are not', async () => {
    const prefix = uniqueTopic('disc');
    await publishAll(target, `${prefix}-early`, ['early']);
    const pattern = encodeURIComponent(`persistent://public/default/${prefix}-.*`);
    const consumer = await pool.open(
      `${target.wsUrl}/ws/v3/consumer/sub?subscriptionInitialPosition=Earliest&topicsPattern=${pattern}`,
    );
    const first = await consumer.next<DeliveredMessage>();
    expect(fromBase64(first.payload)).toBe('early');
    consumer.send({ messageId: first.messageId });
    // New topics: one matching, one not.
    await publishAll(target, `${prefix}-late`, ['late-1', 'late-2']);
    await publishAll(target, uniqueTopic('other'), ['other']);
    const started = Date.now();
    const late = await consumer.take<DeliveredMessage>(2, DISCOVERY_TIMEOUT_MS);
    console.log(`new topic picked up after ${Date.now() - started} ms`);
    expect(late.map((message) => fromBase64(message.payload))).toEqual(['late-1', 'late-2']);
    for (const message of late) consumer.send({ messageId: message.messageId });
    // Published to the new topic after it was picked up: delivered as usual.
    await publishAll(target, `${prefix}-late`, ['late-3']);
    expect(fromBase64((await consumer.next<DeliveredMessage>()).payload)).toBe('late-3');
    expect(await consumer.drain()).toEqual([]);
  }, 120_000);
});

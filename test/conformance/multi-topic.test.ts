/**
 * The multi-topic consumer `/ws/v3/consumer/{subscription}` (docs/protocol.md §5): `topics=a,b` or
 * `topicsPattern=<regex>`, one subscription over several topics, acks routed to the right topic.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveredMessage } from '../../src/protocol/index.js';
import { publishAll, range } from '../helpers/publish.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { fromBase64, handshakeStatus, SocketPool } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

const v3 = (subscription: string, query: string) =>
  `${target.wsUrl}/ws/v3/consumer/${subscription}?subscriptionInitialPosition=Earliest&${query}`;

describe('multi-topic consumer (v3)', () => {
  it('topics=a,b delivers both topics; acked messages are not redelivered, the rest are', async () => {
    const a = uniqueTopic('mt');
    const b = uniqueTopic('mt');
    await publishAll(target, a, range(3, 'a'));
    await publishAll(target, b, range(3, 'b'));
    const consumer = await pool.open(v3('sub', `topics=${a},persistent://public/default/${b}`));
    const got = await consumer.take<DeliveredMessage>(6);
    expect(got.map((m) => fromBase64(m.payload)).sort()).toEqual([...range(3, 'a'), ...range(3, 'b')].sort());
    const acked = got.filter((m) => ['a0', 'b1'].includes(fromBase64(m.payload)));
    for (const message of acked) consumer.send({ messageId: message.messageId });
    consumer.send({ type: 'isEndOfTopic' });
    await consumer.next();
    await consumer.close();
    // Pulsar releases the exclusive subscriptions asynchronously; retry the reconnect briefly.
    let again;
    for (let attempt = 0; attempt < 20 && again === undefined; attempt++) {
      again = await pool.open(v3('sub', `topics=${a},${b}`)).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 250));
        return undefined;
      });
    }
    if (again === undefined) throw new Error('could not reconnect');
    const redelivered = await again.take<DeliveredMessage>(4);
    expect(redelivered.map((m) => fromBase64(m.payload)).sort()).toEqual(['a1', 'a2', 'b0', 'b2']);
    expect(await again.drain()).toEqual([]);
  });

  it('topicsPattern matches the existing topics of its namespace', async () => {
    const prefix = uniqueTopic('pat');
    await publishAll(target, `${prefix}-x`, ['x']);
    await publishAll(target, `${prefix}-y`, ['y']);
    await publishAll(target, uniqueTopic('other'), ['z']);
    const pattern = encodeURIComponent(`persistent://public/default/${prefix}-.*`);
    const consumer = await pool.open(v3('sub', `topicsPattern=${pattern}`));
    const got = await consumer.take<DeliveredMessage>(2);
    expect(got.map((m) => fromBase64(m.payload)).sort()).toEqual(['x', 'y']);
    expect(await consumer.drain()).toEqual([]);
  });

  it('both or neither of topics and topicsPattern is a 500; an empty subscription a 400', async () => {
    expect(await handshakeStatus(`${target.wsUrl}/ws/v3/consumer/sub`)).toBe(500);
    expect(await handshakeStatus(`${target.wsUrl}/ws/v3/consumer/sub?topics=a&topicsPattern=a.*`)).toBe(500);
    expect(await handshakeStatus(`${target.wsUrl}/ws/v3/consumer/?topics=a`)).toBe(400);
  });
});

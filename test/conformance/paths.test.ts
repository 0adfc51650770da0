/**
 * Endpoint path parsing (docs/protocol.md §1.2, §14 scenario 27): v1 and v2 forms, encoded and special
 * characters, slashes in topic names, and where a bad path fails (500 for the topic, 400 for the
 * subscription).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { publishAll } from '../helpers/publish.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { base64, fromBase64, handshakeStatus, SocketPool } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

const ns = 'persistent/public/default';

async function roundTrip(producerPath: string, readerPath: string): Promise<string> {
  const reader = await pool.open(`${target.wsUrl}${readerPath}?messageId=earliest`);
  const producer = await pool.open(`${target.wsUrl}${producerPath}`);
  producer.send({ payload: base64('via-path'), context: 'p' });
  expect(await producer.next()).toMatchObject({ result: 'ok' });
  return fromBase64((await reader.next<{ payload: string }>()).payload);
}

describe('paths', () => {
  it('special characters and unicode in a percent-encoded topic name', async () => {
    const topic = encodeURIComponent(`${uniqueTopic()}-[]<>!@#$%^&*( )-中文、，《》`);
    expect(await roundTrip(`/ws/v2/producer/${ns}/${topic}`, `/ws/v2/reader/${ns}/${topic}`)).toBe(
      'via-path',
    );
  });

  it('producer and reader topic names may contain raw slashes', async () => {
    const topic = `${uniqueTopic()}/with/slashes`;
    expect(await roundTrip(`/ws/v2/producer/${ns}/${topic}`, `/ws/v2/reader/${ns}/${topic}`)).toBe(
      'via-path',
    );
  });

  it('a raw slash and its %2F encoding name the same topic for a producer', async () => {
    const base = uniqueTopic();
    expect(await roundTrip(`/ws/v2/producer/${ns}/${base}%2Fx`, `/ws/v2/reader/${ns}/${base}/x`)).toBe(
      'via-path',
    );
  });

  it('+ in a path segment is a space; %2B is a plus', async () => {
    const base = uniqueTopic();
    expect(await roundTrip(`/ws/v2/producer/${ns}/${base}+a`, `/ws/v2/reader/${ns}/${base}%20a`)).toBe(
      'via-path',
    );
    expect(await roundTrip(`/ws/v2/producer/${ns}/${base}%2Bb`, `/ws/v2/reader/${ns}/${base}%2Bb`)).toBe(
      'via-path',
    );
  });

  it('a consumer on a topic with a raw slash is refused with 400', async () => {
    expect(await handshakeStatus(`${target.wsUrl}/ws/v2/consumer/${ns}/${uniqueTopic()}/a/sub`)).toBe(400);
  });

  it('a percent-encoded subscription name is decoded', async () => {
    const topic = uniqueTopic();
    const consumer = await pool.open(
      `${target.wsUrl}/ws/v2/consumer/${ns}/${topic}/${encodeURIComponent('sub name+é')}?subscriptionInitialPosition=Earliest`,
    );
    await publishAll(target, topic, ['x']);
    await consumer.take(1);
    // Same subscription through a different encoding of the same name: busy.
    expect(await handshakeStatus(`${target.wsUrl}/ws/v2/consumer/${ns}/${topic}/sub+name%2B%C3%A9`)).toBe(
      409,
    );
  });

  it('v1 paths (tenant/cluster/namespace) work for producer, consumer and reader', async () => {
    const v1ns = 'persistent/public/standalone/v1ns';
    if (!target.embedded) {
      // Real Pulsar needs the v1 (cluster-scoped) namespace to exist.
      const response = await fetch(`${target.adminUrl}/admin/namespaces/public/standalone/v1ns`, {
        method: 'PUT',
      });
      expect([204, 409]).toContain(response.status);
    }
    const topic = uniqueTopic();
    const consumer = await pool.open(
      `${target.wsUrl}/ws/consumer/${v1ns}/${topic}/sub?subscriptionInitialPosition=Earliest`,
    );
    expect(await roundTrip(`/ws/producer/${v1ns}/${topic}`, `/ws/reader/${v1ns}/${topic}`)).toBe('via-path');
    expect(fromBase64((await consumer.next<{ payload: string }>()).payload)).toBe('via-path');
  });

  it('scenario 31: producer, consumer and reader sockets answer a ping with a pong echoing it', async () => {
    const topic = uniqueTopic();
    for (const path of [`producer/${ns}/${topic}`, `consumer/${ns}/${topic}/sub`, `reader/${ns}/${topic}`]) {
      const socket = await pool.open(`${target.wsUrl}/ws/v2/${path}`);
      const pong = new Promise<string>((resolve) =>
        socket.ws.once('pong', (data: Buffer) => resolve(data.toString())),
      );
      socket.ws.ping('abc');
      expect(await pong).toBe('abc');
    }
  });

  it('too few path segments fail with 500 (topic parsed outside the handler try block)', async () => {
    expect(await handshakeStatus(`${target.wsUrl}/ws/v2/producer/persistent/public/default`)).toBe(500);
  });

  it('an unknown domain fails with 500', async () => {
    expect(
      await handshakeStatus(`${target.wsUrl}/ws/v2/producer/durable/public/default/${uniqueTopic()}`),
    ).toBe(500);
  });
});

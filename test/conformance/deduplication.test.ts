/**
 * Message deduplication by producer name and sequence id (docs/protocol.md §3.1 `producerName`,
 * `initialSequenceId`; issue: effectively-once producers). The namespace policy turns it on; a
 * producer reopened with `initialSequenceId` = its last acked id resends without duplicates, and
 * Pulsar acks a dropped duplicate with message id -1:-1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessageId, type DeliveredMessage } from '../../src/protocol/index.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { base64, fromBase64, SocketPool } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

async function admin(method: string, path: string, body?: string): Promise<Response> {
  return fetch(`${target.adminUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'Content-Type': 'application/json' } }),
  });
}

/** A fresh namespace with deduplication on. */
async function dedupNamespace(): Promise<string> {
  const tenant = `dedup-${uniqueTopic()}`;
  expect(
    (await admin('PUT', `/admin/v2/tenants/${tenant}`, '{"allowedClusters":["standalone"]}')).status,
  ).toBe(204);
  expect((await admin('PUT', `/admin/v2/namespaces/${tenant}/ns`)).status).toBe(204);
  expect((await admin('POST', `/admin/v2/namespaces/${tenant}/ns/deduplication`, 'true')).status).toBe(204);
  expect(await (await admin('GET', `/admin/v2/namespaces/${tenant}/ns/deduplication`)).json()).toBe(true);
  return `${tenant}/ns`;
}

describe('deduplication', () => {
  it('a producer reopened with initialSequenceId resends without duplicates; the duplicate is acked -1:-1', async () => {
    const namespace = await dedupNamespace();
    const path = `${target.wsUrl}/ws/v2/producer/persistent/${namespace}/t`;
    const first = await pool.open(`${path}?producerName=p1`);
    for (let i = 0; i < 3; i++) {
      first.send({ payload: base64(`m${i}`), context: `a${i}` });
      expect(await first.next()).toMatchObject({ result: 'ok' });
    }
    await first.close();
    let second;
    // Pulsar frees the producer name asynchronously; retry briefly.
    for (let attempt = 0; attempt < 20 && second === undefined; attempt++) {
      second = await pool.open(`${path}?producerName=p1&initialSequenceId=1`).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 250));
        return undefined;
      });
    }
    if (second === undefined) throw new Error('could not reopen producer p1');
    const acks: { result: string; messageId: string }[] = [];
    for (let i = 2; i < 5; i++) {
      second.send({ payload: base64(`m${i}`), context: `b${i}` });
      acks.push(await second.next());
    }
    expect(acks.map((ack) => ack.result)).toEqual(['ok', 'ok', 'ok']);
    expect(decodeMessageId(acks[0]?.messageId ?? '')).toMatchObject({ ledgerId: -1, entryId: -1 });
    expect(decodeMessageId(acks[1]?.messageId ?? '').entryId).toBeGreaterThanOrEqual(0);
    const reader = await pool.open(
      `${target.wsUrl}/ws/v2/reader/persistent/${namespace}/t?messageId=earliest`,
    );
    const read = await reader.take<DeliveredMessage>(5);
    expect(read.map((m) => fromBase64(m.payload))).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(await reader.drain()).toEqual([]);
  });

  it('a producer reopened under its name without initialSequenceId goes on from its stored sequence ids', async () => {
    const namespace = await dedupNamespace();
    const path = `${target.wsUrl}/ws/v2/producer/persistent/${namespace}/again?producerName=p2`;
    const first = await pool.open(path);
    for (let i = 0; i < 3; i++) {
      first.send({ payload: base64(`m${i}`), context: `a${i}` });
      expect(await first.next()).toMatchObject({ result: 'ok' });
    }
    await first.close();
    let second;
    for (let attempt = 0; attempt < 20 && second === undefined; attempt++) {
      second = await pool.open(path).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 250));
        return undefined;
      });
    }
    if (second === undefined) throw new Error('could not reopen producer p2');
    // Starting again at sequence id 0 would have these dropped as duplicates of m0 and m1 (-1:-1).
    for (let i = 3; i < 5; i++) {
      second.send({ payload: base64(`m${i}`), context: `b${i}` });
      const ack = await second.next<{ result: string; messageId: string }>();
      expect(ack.result).toBe('ok');
      expect(decodeMessageId(ack.messageId).entryId).toBeGreaterThanOrEqual(0);
    }
    const reader = await pool.open(
      `${target.wsUrl}/ws/v2/reader/persistent/${namespace}/again?messageId=earliest`,
    );
    const read = await reader.take<DeliveredMessage>(5);
    expect(read.map((m) => fromBase64(m.payload))).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('without the policy, the same resend is stored twice', async () => {
    const topic = uniqueTopic();
    const path = `${target.wsUrl}/ws/v2/producer/persistent/public/default/${topic}`;
    const first = await pool.open(`${path}?producerName=${topic}`);
    first.send({ payload: base64('x'), context: '0' });
    await first.next();
    await first.close();
    let second;
    for (let attempt = 0; attempt < 20 && second === undefined; attempt++) {
      second = await pool.open(`${path}?producerName=${topic}&initialSequenceId=-1`).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 250));
        return undefined;
      });
    }
    if (second === undefined) throw new Error('could not reopen the producer');
    second.send({ payload: base64('x'), context: '1' });
    const ack = await second.next<{ messageId: string }>();
    expect(decodeMessageId(ack.messageId).entryId).toBeGreaterThanOrEqual(0);
  });
});

/**
 * Message deduplication by producer name and sequence id (docs/protocol.md §3.1 `producerName`,
 * `initialSequenceId`; issue: effectively-once producers). The namespace policy turns it on; a
 * producer reopened with `initialSequenceId` = its last acked id resends without duplicates, and
 * Pulsar acks a dropped duplicate with message id -1:-1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeMessageId,
  keyPartition,
  type DeliveredMessage,
  type MessageIdData,
} from '../../src/protocol/index.js';
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

/** Sends one message and returns its ack's message id. */
async function sendOne(
  producer: Awaited<ReturnType<SocketPool['open']>>,
  payload: string,
  key?: string,
): Promise<MessageIdData> {
  producer.send({ payload: base64(payload), context: payload, ...(key === undefined ? {} : { key }) });
  const ack = await producer.next<{ result: string; messageId: string }>();
  expect(ack.result).toBe('ok');
  return decodeMessageId(ack.messageId);
}

/** A topic with `partitions` partitions in a fresh namespace with deduplication on: its path. */
async function partitionedDedupTopic(partitions: number): Promise<string> {
  const path = `${await dedupNamespace()}/${uniqueTopic('dedup-part')}`;
  const created = await admin('PUT', `/admin/v2/persistent/${path}/partitions`, String(partitions));
  expect(created.status).toBe(204);
  return path;
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
    const second = await pool.reopen(`${path}?producerName=p1&initialSequenceId=1`);
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
    const second = await pool.reopen(path);
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

  it('is per partition: a resend with the same producer name and sequence id is dropped on its partition, stored on another', async () => {
    const path = await partitionedDedupTopic(3);
    const producerUrl = (partition: number) =>
      `${target.wsUrl}/ws/v2/producer/persistent/${path}-partition-${partition}?producerName=pp&initialSequenceId=-1`;
    const first = await pool.reopen(producerUrl(0));
    expect((await sendOne(first, 'a0')).entryId).toBeGreaterThanOrEqual(0);
    await first.close();
    // Sequence id 0 of producer pp again, on another partition: that partition never saw it.
    const other = await pool.reopen(producerUrl(1));
    expect((await sendOne(other, 'b0')).entryId).toBeGreaterThanOrEqual(0);
    await other.close();
    // And on the partition that stored it: a duplicate.
    const again = await pool.reopen(producerUrl(0));
    expect(await sendOne(again, 'a0')).toMatchObject({ ledgerId: -1, entryId: -1 });
    const next = await sendOne(again, 'a1');
    expect(next.entryId).toBeGreaterThanOrEqual(0);
    const read = async (partition: number, count: number) => {
      const reader = await pool.open(
        `${target.wsUrl}/ws/v2/reader/persistent/${path}-partition-${partition}?messageId=earliest`,
      );
      const messages = await reader.take<DeliveredMessage>(count);
      expect(await reader.drain()).toEqual([]);
      return messages.map((m) => fromBase64(m.payload));
    };
    expect(await read(0, 2)).toEqual(['a0', 'a1']);
    expect(await read(1, 1)).toEqual(['b0']);
  });

  it("a producer on a partitioned topic's base name numbers each partition's messages on its own", async () => {
    const partitions = 3;
    const path = await partitionedDedupTopic(partitions);
    // Two keys that Pulsar routes to different partitions (JavaStringHash, the default).
    const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
    const keyA = keys[0] ?? '';
    const keyB =
      keys.find(
        (key) =>
          keyPartition(key, partitions, 'JavaStringHash') !==
          keyPartition(keyA, partitions, 'JavaStringHash'),
      ) ?? '';
    const partitionB = keyPartition(keyB, partitions, 'JavaStringHash');
    const url = `${target.wsUrl}/ws/v2/producer/persistent/${path}?producerName=base`;
    const first = await pool.reopen(`${url}&initialSequenceId=-1`);
    // Partition A gets sequence ids 0 and 1, partition B its own 0.
    await sendOne(first, 'a0', keyA);
    await sendOne(first, 'a1', keyA);
    expect((await sendOne(first, 'b0', keyB)).partition).toBe(partitionB);
    await first.close();
    const second = await pool.reopen(`${url}&initialSequenceId=-1`);
    // Partition B's sequence id 0 again: dropped; its sequence id 1 is new there (one shared
    // numbering would have given b0 the id 2 and dropped b1 too).
    expect(await sendOne(second, 'b0', keyB)).toMatchObject({ ledgerId: -1, entryId: -1 });
    expect((await sendOne(second, 'b1', keyB)).entryId).toBeGreaterThanOrEqual(0);
    const reader = await pool.open(
      `${target.wsUrl}/ws/v2/reader/persistent/${path}-partition-${partitionB}?messageId=earliest`,
    );
    const read = await reader.take<DeliveredMessage>(2);
    expect(read.map((m) => fromBase64(m.payload))).toEqual(['b0', 'b1']);
    expect(await reader.drain()).toEqual([]);
  });

  it('without the policy, the same resend is stored twice', async () => {
    const topic = uniqueTopic();
    const path = `${target.wsUrl}/ws/v2/producer/persistent/public/default/${topic}`;
    const first = await pool.open(`${path}?producerName=${topic}`);
    first.send({ payload: base64('x'), context: '0' });
    await first.next();
    await first.close();
    const second = await pool.reopen(`${path}?producerName=${topic}&initialSequenceId=-1`);
    second.send({ payload: base64('x'), context: '1' });
    const ack = await second.next<{ messageId: string }>();
    expect(decodeMessageId(ack.messageId).entryId).toBeGreaterThanOrEqual(0);
  });
});

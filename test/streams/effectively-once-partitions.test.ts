/**
 * Effectively-once into a partitioned topic (issue: effectively-once per partition): the producer
 * opens one producer per partition, routes keyed messages as Pulsar does (JavaStringHash by default,
 * Murmur3_32Hash on request) and keyless ones by input position round robin, and each partition
 * numbers its own messages. A restart from an acknowledged prefix (position and per-partition
 * sequence ids) resends to the same partitions with the same sequence ids, so the topic keeps every
 * message once; so do sockets cut mid-stream. Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  PulsarWsClient,
  type ProducerAckEvent,
  type ProducerMessageObject,
} from '../../src/index.js';
import { decodeMessageId, keyPartition } from '../../src/protocol/index.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { createDedupNamespace, expectAllDelivered, topicPayloads } from '../helpers/topics.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const PARTITIONS = 4;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(url = target.wsUrl): PulsarWsClient {
  const made = new PulsarWsClient({ url, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
  cleanups.push(() => made.close());
  return made;
}

/** A partitioned topic in a fresh namespace with deduplication on; its full name. */
async function partitionedDedupTopic(prefix: string): Promise<string> {
  const namespace = await createDedupNamespace(target, prefix);
  const local = uniqueTopic(prefix);
  const response = await fetch(`${target.adminUrl}/admin/v2/persistent/${namespace}/${local}/partitions`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: String(PARTITIONS),
  });
  expect(response.status).toBe(204);
  return `persistent://${namespace}/${local}`;
}

/** Every partition's payloads, read to the end. */
async function partitionPayloads(topic: string): Promise<string[][]> {
  return Promise.all(
    Array.from({ length: PARTITIONS }, (_, partition) =>
      topicPayloads(target, `${topic}-partition-${partition}`),
    ),
  );
}

/** Messages `from` to `to` − 1; every third has a key. */
function messages(from: number, to: number): ProducerMessageObject[] {
  return Array.from({ length: to - from }, (_, i) => {
    const n = from + i;
    return n % 3 === 0 ? { payload: `m${n}`, key: `key-${n % 17}` } : { payload: `m${n}` };
  });
}

/** Where the producer must have sent message `n` (at input position n). */
function expectedPartition(message: ProducerMessageObject, position: number): number {
  return message.key === undefined
    ? position % PARTITIONS
    : keyPartition(message.key, PARTITIONS, 'JavaStringHash');
}

describe('effectively-once into a partitioned topic', () => {
  it('routes keyed messages by key hash, keyless ones by position; each partition numbers its own', async () => {
    const topic = await partitionedDedupTopic('eo-route');
    const acks: ProducerAckEvent[] = [];
    const producer = client().producer(topic, {
      effectivelyOnce: true,
      producerName: 'route',
      initialSequenceId: -1,
      onAck: (ack) => acks.push(ack),
    });
    const sent = messages(0, 400);
    await pipeline(Readable.from(sent), producer);
    expect(producer.partitionCount).toBe(PARTITIONS);
    expect(producer.lastAckedSequenceId).toBe(399);
    const counts = Array.from({ length: PARTITIONS }, () => 0);
    for (const [position, message] of sent.entries()) counts[expectedPartition(message, position)]! += 1;
    expect(producer.partitionSequenceIds).toEqual(counts.map((count) => count - 1));
    const perPartition = await partitionPayloads(topic);
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const expected = sent
        .filter((message, position) => expectedPartition(message, position) === partition)
        .map((message) => String(message.payload));
      expect(perPartition[partition]).toEqual(expected);
    }
    expect(new Set(acks.map((ack) => ack.partition))).toEqual(new Set([0, 1, 2, 3]));
    for (const ack of acks) expect(decodeMessageId(ack.messageId).entryId).toBeGreaterThanOrEqual(0);
  });

  it('a restart from an older acknowledged prefix resends to the same partitions; the duplicates are dropped', async () => {
    const topic = await partitionedDedupTopic('eo-resume');
    const first = client().producer(topic, {
      effectivelyOnce: true,
      producerName: 'resume',
      initialSequenceId: -1,
    });
    // Where each partition stood after position 299: the checkpoint of a crash that lagged behind.
    const atCheckpoint = Array.from({ length: PARTITIONS }, () => -1);
    const sent = messages(0, 1000);
    for (const [position, message] of sent.slice(0, 300).entries())
      atCheckpoint[expectedPartition(message, position)]! += 1;
    await pipeline(Readable.from(sent.slice(0, 700)), first);
    const acks: ProducerAckEvent[] = [];
    const second = client().producer(topic, {
      effectivelyOnce: true,
      producerName: 'resume',
      initialSequenceId: 299,
      partitionSequenceIds: atCheckpoint,
      onAck: (ack) => acks.push(ack),
    });
    await pipeline(Readable.from(sent.slice(300)), second);
    const dropped = acks.filter((ack) => decodeMessageId(ack.messageId).ledgerId === -1);
    expect(dropped).toHaveLength(400);
    const stored = (await partitionPayloads(topic)).flat();
    const payloads = sent.map((message) => String(message.payload));
    expect(expectAllDelivered('resume from an older prefix', stored, payloads)).toBe(0);
    expect(stored).toHaveLength(1000);
  });

  it('sockets cut mid-stream leave no duplicate', async () => {
    const topic = await partitionedDedupTopic('eo-cuts');
    const proxy = await startFaultProxy(target.wsUrl);
    cleanups.push(() => proxy.close());
    const producer = client(proxy.url).producer(topic, {
      effectivelyOnce: true,
      producerName: 'cuts',
      initialSequenceId: -1,
      maxInFlight: 200,
    });
    let acked = 0;
    producer.on('ack', () => {
      acked += 1;
      if (acked % 700 === 0) proxy.cut();
    });
    const sent = messages(0, 3000);
    await pipeline(Readable.from(sent), producer);
    expect(proxy.cuts).toBeGreaterThanOrEqual(4);
    const stored = (await partitionPayloads(topic)).flat();
    const payloads = sent.map((message) => String(message.payload));
    expect(expectAllDelivered('partitioned effectively-once with cuts', stored, payloads)).toBe(0);
  });

  it('bad partitionSequenceIds are refused before anything connects', () => {
    const made = client();
    const options = { effectivelyOnce: true as const, producerName: 'p', initialSequenceId: 0 };
    expect(() => made.producer('t', { ...options, partitionSequenceIds: [1.5] })).toThrow(
      /expected `partitionSequenceIds` to be an array of integers >= -1, got \[1\.5\]/,
    );
    expect(() => made.producer('t', { ...options, partitionSequenceIds: [-2] })).toThrow(
      InvalidArgumentError,
    );
    expect(() => made.producer('t', { partitionSequenceIds: [1] })).toThrow(
      /`partitionSequenceIds` goes with `effectivelyOnce`/,
    );
  });

  it('resuming without per-partition sequence ids is refused, naming the option', async () => {
    const topic = await partitionedDedupTopic('eo-refuse');
    const producer = client().producer(topic, {
      effectivelyOnce: true,
      producerName: 'refuse',
      initialSequenceId: 10,
    });
    const error = await pipeline(Readable.from(['x']), producer).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(String(error)).toMatch(/\(4 partitions\) needs `partitionSequenceIds`/);
  });
});

/** Checking what ended up on a topic: read it back, count what is missing or duplicated, dedup namespaces. */
import { expect } from 'vitest';
import { ConnectError, PulsarWsClient, type ConsumerMessage } from '../../src/index.js';
import type { Target } from './target.js';

/**
 * Every message on the topic, in order, read directly from the target (a reader up to the end). A
 * topic nobody has written to does not exist on Pulsar (its admin API answers 404, which a stopAtEnd
 * reader reports): it holds no messages.
 */
export async function readTopic(target: Target, topic: string): Promise<ConsumerMessage[]> {
  const client = new PulsarWsClient({ url: target.wsUrl });
  try {
    const reader = client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true, highWaterMark: 1000 });
    return await reader.toArray().catch((error: unknown) => {
      if (error instanceof ConnectError && error.status === 404) return [];
      throw error;
    });
  } finally {
    await client.close();
  }
}

/** The payloads on the topic as text, in order. */
export async function topicPayloads(target: Target, topic: string): Promise<string[]> {
  return (await readTopic(target, topic)).map((message) => message.payload.toString());
}

/**
 * Expects every one of `expected` among `actual`; prints the counts (missing, duplicates) in the
 * test output and returns the number of duplicates.
 */
export function expectAllDelivered(
  label: string,
  actual: readonly string[],
  expected: readonly string[],
): number {
  const seen = new Set(actual);
  const missing = expected.filter((item) => !seen.has(item));
  const duplicates = actual.length - seen.size;
  console.log(`${label}: ${expected.length} expected, ${missing.length} missing, ${duplicates} duplicates`);
  expect(missing).toEqual([]);
  return duplicates;
}

/** A fresh namespace `public/<prefix>-…` with deduplication enabled; returns its name. */
export async function createDedupNamespace(target: Target, prefix: string): Promise<string> {
  const namespace = `${prefix}-${process.pid}-${Date.now().toString(36)}`;
  const base = `${target.adminUrl}/admin/v2/namespaces/public/${namespace}`;
  expect((await fetch(base, { method: 'PUT' })).status).toBe(204);
  const enabled = await fetch(`${base}/deduplication`, {
    method: 'POST',
    body: 'true',
    headers: { 'Content-Type': 'application/json' },
  });
  expect(enabled.status).toBe(204);
  return `public/${namespace}`;
}

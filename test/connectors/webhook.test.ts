/**
 * HTTP webhook source: every status it answers, key and properties from headers, 200 only after the
 * broker acknowledged, and 1 000 concurrent POSTs that all end acknowledged or refused with 429/503,
 * none lost. Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookSource, type WebhookOptions } from '../../src/connectors/http-webhook.js';
import { PulsarWsClient } from '../../src/index.js';
import type { Tracked } from '../../src/streams/tracked.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { readTopic } from '../helpers/topics.js';

const target = useTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function webhookToTopic(topic: string, options: WebhookOptions = {}) {
  const client = new PulsarWsClient({ url: target.wsUrl });
  const webhook = await WebhookSource.listen(options);
  const done = pipeline(webhook, client.producer(topic));
  cleanups.push(async () => {
    await webhook.close();
    await done.catch(() => undefined);
    await client.close();
  });
  return { webhook, client, done };
}

async function post(url: string, body: string, headers: Record<string, string> = {}, method = 'POST') {
  const response = await fetch(url, { method, body: method === 'GET' ? null : body, headers });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as { messageIds?: string[]; error?: string },
  };
}

describe('webhook source', () => {
  it('200 with the ids once stored: raw body = one message, NDJSON = one per line; key and properties from headers', async () => {
    const topic = uniqueTopic('hook');
    const { webhook } = await webhookToTopic(topic);
    const raw = await post(webhook.url, 'hello', { 'x-message-key': 'k1', 'x-property-source': 'test' });
    expect(raw.status).toBe(200);
    expect(raw.body.messageIds).toHaveLength(1);
    const ndjson = await post(webhook.url, '{"a":1}\n\n{"a":2}\n', {
      'content-type': 'application/x-ndjson',
    });
    expect(ndjson.status).toBe(200);
    expect(ndjson.body.messageIds).toHaveLength(2);
    const stored = await readTopic(target, topic);
    expect(stored.map((m) => m.payload.toString())).toEqual(['hello', '{"a":1}', '{"a":2}']);
    expect(stored.map((m) => m.messageId)).toEqual([
      ...(raw.body.messageIds ?? []),
      ...(ndjson.body.messageIds ?? []),
    ]);
    expect(stored[0]).toMatchObject({ key: 'k1', properties: { source: 'test' } });
  });

  it('404, 405, 413, 400 (malformed NDJSON naming the line; empty body), each saying what is wrong', async () => {
    const { webhook } = await webhookToTopic(uniqueTopic('hook'), { path: '/in', maxBodyBytes: 100 });
    expect((await post(webhook.url.replace('/in', '/other'), 'x')).status).toBe(404);
    const get = await post(webhook.url, '', {}, 'GET');
    expect(get.status).toBe(405);
    const big = await post(webhook.url, 'x'.repeat(101));
    expect(big.status).toBe(413);
    expect(big.body.error).toMatch(/over the 100-byte limit/);
    const bad = await post(webhook.url, '{"ok":1}\n{broken\n', { 'content-type': 'application/x-ndjson' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/line 2 is not JSON/);
    expect((await post(webhook.url, '')).status).toBe(400);
  });

  it('401 for a missing or wrong shared secret, and for a missing or wrong HMAC signature', async () => {
    const topic = uniqueTopic('hook');
    const { webhook } = await webhookToTopic(topic, { secret: 's3cret', hmacSecret: 'hmac-key' });
    const sign = (body: string) => `sha256=${createHmac('sha256', 'hmac-key').update(body).digest('hex')}`;
    expect((await post(webhook.url, 'x', { 'x-signature-256': sign('x') })).status).toBe(401);
    expect(
      (await post(webhook.url, 'x', { 'x-webhook-secret': 'nope', 'x-signature-256': sign('x') })).status,
    ).toBe(401);
    const noSignature = await post(webhook.url, 'x', { 'x-webhook-secret': 's3cret' });
    expect(noSignature.status).toBe(401);
    expect(noSignature.body.error).toMatch(/missing x-signature-256/);
    expect(
      (await post(webhook.url, 'x', { 'x-webhook-secret': 's3cret', 'x-signature-256': sign('y') })).status,
    ).toBe(401);
    expect(
      (await post(webhook.url, 'x', { 'x-webhook-secret': 's3cret', 'x-signature-256': sign('x') })).status,
    ).toBe(200);
    expect((await readTopic(target, topic)).map((m) => m.payload.toString())).toEqual(['x']);
  });

  it('429 with Retry-After when the in-flight limit is full; 503 with Retry-After when the pipeline fails', async () => {
    const webhook = await WebhookSource.listen({ maxInFlight: 1, maxQueued: 0 });
    const held: Tracked<unknown>[] = [];
    const sink = new Writable({
      objectMode: true,
      write(chunk: Tracked<unknown>, _encoding, callback) {
        held.push(chunk);
        callback();
      },
    });
    const done = pipeline(webhook, sink).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    const first = post(webhook.url, 'one');
    while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await post(webhook.url, 'two');
    expect(second.status).toBe(429);
    expect(second.retryAfter).toBe('1');
    sink.destroy(new Error('sink broke'));
    const failed = await first;
    expect(failed.status).toBe(503);
    expect(failed.retryAfter).toBe('5');
    expect((await done)?.message).toBe('sink broke');
  });

  it('1 000 concurrent small POSTs: each acknowledged (and stored) or refused with 429/503, none lost', async () => {
    const topic = uniqueTopic('hook-load');
    const { webhook } = await webhookToTopic(topic, { maxInFlight: 8, maxQueued: 40 });
    const results = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => ({ i, ...(await post(webhook.url, `p${i}`)) })),
    );
    const counts = new Map<number, number>();
    for (const { status } of results) counts.set(status, (counts.get(status) ?? 0) + 1);
    console.log(`1000 concurrent POSTs: ${JSON.stringify(Object.fromEntries(counts))}`);
    expect([...counts.keys()].every((status) => [200, 429, 503].includes(status))).toBe(true);
    const accepted = results.filter((result) => result.status === 200).map((result) => `p${result.i}`);
    const stored = new Set((await readTopic(target, topic)).map((m) => m.payload.toString()));
    expect(accepted.filter((payload) => !stored.has(payload))).toEqual([]);
    expect(accepted.length).toBeGreaterThan(0);
  }, 60_000);
});

/**
 * HTTP webhook source: every status it answers, key and properties from headers, 200 only after the
 * broker acknowledged, and 1 000 concurrent POSTs that all end acknowledged or refused with 429/503,
 * none lost. Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookSource, type WebhookOptions } from '../../src/connectors/http-webhook.js';
import { AuthError, PulsarWsClient } from '../../src/index.js';
import type { ProducerMessageObject } from '../../src/streams/producer-message.js';
import { Tracked } from '../../src/streams/tracked.js';
import { bodyAfterContinue, headWithoutBody, tricklingBody } from '../helpers/http-raw.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { readTopic } from '../helpers/topics.js';

const target = useTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function webhookToTopic(topic: string, options: WebhookOptions = {}, probe?: Transform) {
  const client = new PulsarWsClient({ url: target.wsUrl });
  const webhook = await WebhookSource.listen(options);
  const done =
    probe === undefined
      ? pipeline(webhook, client.producer(topic))
      : pipeline(webhook, probe, client.producer(topic));
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
    headers: response.headers,
    body: (await response.json()) as {
      count?: number;
      messageIds?: string[];
      firstMessageId?: string;
      lastMessageId?: string;
      error?: string;
    },
  };
}

/** The most messages in flight seen at once, overall and per request (property `req`). */
interface WindowStats {
  inFlight: number;
  maxInFlight: number;
  readonly perRequest: Map<string, number>;
  maxPerRequest: number;
}

/**
 * A stage between the webhook and the producer that counts each message from the moment it passes
 * until the broker acknowledges it: a lower bound of what the webhook has in flight, checked at
 * every message (not sampled).
 */
function windowProbe(stats: WindowStats): Transform {
  return new Transform({
    objectMode: true,
    transform(chunk: Tracked<ProducerMessageObject>, _encoding, callback) {
      const request = chunk.value.properties?.req ?? '';
      const mine = (stats.perRequest.get(request) ?? 0) + 1;
      stats.perRequest.set(request, mine);
      stats.inFlight += 1;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      stats.maxPerRequest = Math.max(stats.maxPerRequest, mine);
      callback(
        null,
        new Tracked(chunk.value, (receipt) => {
          stats.inFlight -= 1;
          stats.perRequest.set(request, (stats.perRequest.get(request) ?? 1) - 1);
          chunk.written(receipt);
        }),
      );
    },
  });
}

const ndjson = (lines: readonly string[]) => `${lines.join('\n')}\n`;

describe('webhook source', () => {
  it('200 with the ids once stored: raw body = one message, NDJSON = one per line; key and properties from headers', async () => {
    const topic = uniqueTopic('hook');
    const { webhook } = await webhookToTopic(topic);
    const raw = await post(webhook.url, 'hello', { 'x-message-key': 'k1', 'x-property-source': 'test' });
    expect(raw.status).toBe(200);
    expect(raw.body).toMatchObject({ count: 1 });
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

  it('a request still arriving when the broker refuses the producer: 502 naming the refusal, then the connection closed (never reset)', async () => {
    const webhook = await WebhookSource.listen();
    const failed = new Promise<Error>((resolve) => webhook.once('error', resolve));
    const refusal = new AuthError('authorization failed for ws://127.0.0.1/ws/v2/producer/x', 403);
    // The head is admitted; the body is sent only once the source failed as a refused pipeline would.
    const answer = await bodyAfterContinue(webhook.url, 'late', async () => {
      webhook.destroy(refusal);
      await failed;
    });
    expect(answer).toMatchObject({ status: 502, closedByServer: true });
    expect(answer.headers['retry-after']).toBeUndefined();
    expect(answer.json?.error).toBe(`the broker refused this server's producer: ${refusal.message}`);
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

  it('refuses a wrong or missing secret, and a missing or malformed signature, on the headers alone: 401 and the connection closed, the body never read', async () => {
    const topic = uniqueTopic('hook-unread');
    const { webhook } = await webhookToTopic(topic, { secret: 's3cret', hmacSecret: 'hmac-key' });
    const signature = `sha256=${'0'.repeat(64)}`;
    const refusals = [
      [{ 'x-signature-256': signature }, /missing x-webhook-secret/],
      [{ 'x-webhook-secret': 'nope', 'x-signature-256': signature }, /wrong x-webhook-secret/],
      [{ 'x-webhook-secret': 's3cret' }, /missing x-signature-256/],
      [{ 'x-webhook-secret': 's3cret', 'x-signature-256': 'md5=abc' }, /x-signature-256 is not sha256=/],
    ] as const;
    for (const [headers, reason] of refusals) {
      // The body is announced (1 MiB) and never sent: only a refusal made on the headers gets here.
      const answer = await headWithoutBody(webhook.url, headers, 1024 * 1024);
      expect(answer).toMatchObject({ status: 401, closedByServer: true, headers: { connection: 'close' } });
      expect(String(answer.json?.error)).toMatch(reason);
    }
    // 413 by the declared length, 404 and 405: refused unread as well.
    const small = await webhookToTopic(uniqueTopic('hook-unread'), { path: '/in', maxBodyBytes: 100 });
    expect(await headWithoutBody(small.webhook.url, {}, 101)).toMatchObject({
      status: 413,
      closedByServer: true,
    });
    expect(await headWithoutBody(small.webhook.url.replace('/in', '/x'), {}, 50)).toMatchObject({
      status: 404,
      closedByServer: true,
    });
    expect(await readTopic(target, topic)).toEqual([]);
  });

  it('a chunked body that grows past maxBodyBytes: 413 as soon as it does, the rest unread, nothing stored', async () => {
    const topic = uniqueTopic('hook-chunked');
    const { webhook } = await webhookToTopic(topic, { maxBodyBytes: 100 });
    const answer = await new Promise<{
      status: number | undefined;
      body: string;
      connection: string | undefined;
    }>((resolve, reject) => {
      // No Content-Length: the size is known only as the chunks come. The body never ends.
      const request = httpRequest(webhook.url, { method: 'POST' });
      request.on('response', (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => {
          request.destroy();
          resolve({ status: response.statusCode, body, connection: response.headers.connection });
        });
      });
      request.on('error', reject);
      request.write('x'.repeat(60));
      request.write('y'.repeat(60));
    });
    expect(answer).toMatchObject({ status: 413, connection: 'close' });
    expect(answer.body).toMatch(/over the 100-byte limit/);
    expect(await readTopic(target, topic)).toEqual([]);
  });

  it('Expect: 100-continue: a refused request is never invited to send its body; an admitted one is', async () => {
    const topic = uniqueTopic('hook-continue');
    const { webhook } = await webhookToTopic(topic, { secret: 's3cret' });
    const refused = await headWithoutBody(webhook.url, { expect: '100-continue', 'x-webhook-secret': 'no' });
    expect(refused).toMatchObject({ status: 401, continued: false, closedByServer: true });
    const body = 'sent after 100 Continue';
    const { continued, status } = await new Promise<{ continued: boolean; status: number | undefined }>(
      (resolve, reject) => {
        let invited = false;
        const request = httpRequest(webhook.url, {
          method: 'POST',
          headers: { expect: '100-continue', 'x-webhook-secret': 's3cret', 'content-length': body.length },
        });
        request.on('continue', () => {
          invited = true;
          request.end(body);
        });
        request.on('response', (response) => {
          response.resume();
          resolve({ continued: invited, status: response.statusCode });
        });
        request.on('error', reject);
        request.flushHeaders();
      },
    );
    expect({ continued, status }).toEqual({ continued: true, status: 200 });
    expect((await readTopic(target, topic)).map((m) => m.payload.toString())).toEqual([body]);
  });

  it('a body whose HMAC does not match publishes none of its records; the signature is checked over the whole streamed body', async () => {
    const topic = uniqueTopic('hook-hmac');
    const { webhook } = await webhookToTopic(topic, { hmacSecret: 'hmac-key' });
    const sign = (body: string) => `sha256=${createHmac('sha256', 'hmac-key').update(body).digest('hex')}`;
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ i }));
    const body = ndjson(lines);
    const tampered = ndjson([...lines.slice(0, -1), '{"i":"forged"}']);
    const forged = await post(webhook.url, tampered, {
      'content-type': 'application/x-ndjson',
      'x-signature-256': sign(body),
    });
    expect(forged.status).toBe(401);
    expect(forged.body.error).toMatch(/does not match the body/);
    const signed = await post(webhook.url, body, {
      'content-type': 'application/x-ndjson',
      'x-signature-256': sign(body).toUpperCase().replace('SHA256=', 'sha256='),
    });
    expect(signed.status).toBe(200);
    expect(signed.body.count).toBe(5000);
    const stored = await readTopic(target, topic);
    expect(stored.map((message) => message.payload.toString())).toEqual(lines);
  });

  it('NDJSON is checked whole before anything is published: a bad line (not JSON, not UTF-8) anywhere stores nothing', async () => {
    const topic = uniqueTopic('hook-bad-line');
    const { webhook } = await webhookToTopic(topic);
    const good = Array.from({ length: 3000 }, (_, i) => `{"i":${i}}`);
    const late = await post(webhook.url, ndjson([...good, '{oops']), {
      'content-type': 'application/x-ndjson',
    });
    expect(late).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^line 3001 is not JSON/) as string },
    });
    const latin1 = Buffer.concat([Buffer.from('{"a":1}\n{"b":"'), Buffer.from([0xe9]), Buffer.from('"}\n')]);
    const response = await fetch(webhook.url, {
      method: 'POST',
      body: latin1,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('line 2 is not UTF-8');
    const crlf = await post(webhook.url, '{"a":1}\r\n \r\n{"a":2}\r\n', {
      'content-type': 'application/x-ndjson',
    });
    expect(crlf.body.count).toBe(2);
    expect((await readTopic(target, topic)).map((m) => m.payload.toString())).toEqual(['{"a":1}', '{"a":2}']);
  });

  it('streams large bodies into the producer a window at a time: never more messages in flight than allowed per request and per source', async () => {
    const topic = uniqueTopic('hook-window');
    const stats: WindowStats = { inFlight: 0, maxInFlight: 0, perRequest: new Map(), maxPerRequest: 0 };
    const { webhook } = await webhookToTopic(
      topic,
      { maxRequestMessagesInFlight: 7, maxMessagesInFlight: 16 },
      windowProbe(stats),
    );
    const bodies = Array.from({ length: 4 }, (_, r) =>
      ndjson(Array.from({ length: r === 0 ? 1500 : 400 }, (_, i) => `[${r},${i}]`)),
    );
    const answers = await Promise.all(
      bodies.map((body, r) =>
        post(webhook.url, body, { 'content-type': 'application/x-ndjson', 'x-property-req': String(r) }),
      ),
    );
    console.log(`windows: at most ${stats.maxInFlight} in flight, ${stats.maxPerRequest} of one request`);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    expect(stats.maxPerRequest).toBeLessThanOrEqual(7);
    expect(stats.maxInFlight).toBeLessThanOrEqual(16);
    expect(stats.maxInFlight).toBeGreaterThan(0);
    const stored = await readTopic(target, topic);
    expect(stored).toHaveLength(1500 + 3 * 400);
    // Over 1000 messages: the count with the first and last ids (the answer stays small).
    const [big, small] = answers;
    const firstBig = stored.find((message) => message.payload.toString() === '[0,0]');
    const lastBig = stored.find((message) => message.payload.toString() === '[0,1499]');
    expect(big?.body).toEqual({
      count: 1500,
      firstMessageId: firstBig?.messageId,
      lastMessageId: lastBig?.messageId,
    });
    const ofSmall = stored.filter((message) => message.properties.req === '1').map((m) => m.messageId);
    expect(small?.body).toEqual({ count: 400, messageIds: ofSmall });
  });

  it('503 with Retry-After for a request the broker acknowledges nothing of for ackTimeoutMs', async () => {
    const webhook = await WebhookSource.listen({ ackTimeoutMs: 200 });
    // A sink that takes messages and never reports them written.
    const sink = new Writable({ objectMode: true, write: (_chunk, _encoding, callback) => callback() });
    const done = pipeline(webhook, sink);
    const answer = await post(webhook.url, 'never acknowledged');
    expect(answer).toMatchObject({ status: 503, retryAfter: '5' });
    expect(answer.body.error).toMatch(/acknowledged nothing of this request for 200 ms/);
    await webhook.close();
    await done;
  });

  it('a body trickled slower than bodyTimeoutMs: 408, the connection closed, its slot free again (a well-formed signature alone holds nothing for long)', async () => {
    const topic = uniqueTopic('webhook-slow-body');
    const { webhook } = await webhookToTopic(topic, {
      hmacSecret: 'hmac-key',
      maxInFlight: 1,
      maxQueued: 0,
      bodyTimeoutMs: 300,
    });
    // Any well-formed signature passes admission; the body it would have to match never arrives whole.
    const slow = await tricklingBody(webhook.url, { 'x-signature-256': `sha256=${'0'.repeat(64)}` }, 1000);
    expect(slow).toMatchObject({ status: 408, closedByServer: true, headers: { connection: 'close' } });
    expect(slow.json?.error).toMatch(
      /^the body did not arrive within 300 ms \(bodyTimeoutMs\); \d+ bytes came$/,
    );
    const body = 'on time';
    const signature = `sha256=${createHmac('sha256', 'hmac-key').update(body).digest('hex')}`;
    const answer = await post(webhook.url, body, { 'x-signature-256': signature });
    expect(answer).toMatchObject({ status: 200, body: { count: 1 } });
    expect((await readTopic(target, topic)).map((message) => message.payload.toString())).toEqual([body]);
  });
});

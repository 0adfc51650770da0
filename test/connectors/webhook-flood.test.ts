/**
 * A flood of tiny records through `pulsar-ws webhook-to-topic` (the built bin, a child process):
 * 8 concurrent 512 KiB NDJSON bodies of 44 620 records each, twice (713 920 messages). Every record
 * ends up on the topic, every request is answered 200 only once all its records are stored (or
 * 429/503, retried whole as the docs tell clients to), and the process's peak RSS (the kernel's
 * `VmHWM`, not a sample) stays under 150 MB: memory is bounded by messages in flight, not by what
 * the bodies hold. Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { PulsarWsClient } from '../../src/index.js';
import { CLI_PATH } from '../helpers/broker-process.js';
import { MB, megabytes, peakRssBytes } from '../helpers/rss.js';
import { childEnv } from '../helpers/sidecar.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const BODY_BYTES = 512 * 1024;
const RECORDS_PER_BODY = 44_620;
const CONCURRENT = 8;
const ROUNDS = 2;
const BODIES = CONCURRENT * ROUNDS;
const RSS_BOUND = 150 * MB;

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** Body `b`: lines `[b,j]` padded with spaces so that the body is exactly 512 KiB. */
function ndjsonBody(b: number): Buffer {
  const body = Buffer.alloc(BODY_BYTES, 0x20);
  const width = Math.floor(BODY_BYTES / RECORDS_PER_BODY);
  const wider = BODY_BYTES - width * RECORDS_PER_BODY;
  let at = 0;
  for (let j = 0; j < RECORDS_PER_BODY; j++) {
    const lineBytes = width + (j < wider ? 1 : 0);
    body.write(`[${b},${j}]`, at, 'latin1');
    body[at + lineBytes - 1] = 0x0a;
    at += lineBytes;
  }
  return body;
}

async function startWebhookToTopic(topic: string) {
  const child = spawn(
    process.execPath,
    [CLI_PATH, 'webhook-to-topic', '--url', target.wsUrl, '--port', '0', '--topic', topic],
    { env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  stops.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening at (http:\/\/\S+)/.exec(stderr);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    void exited.then((code) => reject(new Error(`webhook-to-topic exited (${code}):\n${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

interface Answer {
  readonly status: number;
  readonly count: number | undefined;
  readonly error: string | undefined;
}

/** Posts body `b` until it is answered 200; 429 and 503 are retried whole after `Retry-After`. */
async function postUntilStored(url: string, b: number, retries: Map<number, number>): Promise<Answer> {
  const body = ndjsonBody(b);
  for (;;) {
    const response = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    const answer = (await response.json()) as { count?: number; error?: string };
    if (response.status !== 429 && response.status !== 503) {
      return { status: response.status, count: answer.count, error: answer.error };
    }
    retries.set(response.status, (retries.get(response.status) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get('retry-after')) * 1000));
  }
}

/** How many times each record `[b,j]` is on the topic. */
async function recordCounts(topic: string): Promise<Uint8Array> {
  const seen = new Uint8Array(BODIES * RECORDS_PER_BODY);
  const client = new PulsarWsClient({ url: target.wsUrl });
  try {
    const reader = client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true, highWaterMark: 1000 });
    for await (const message of reader) {
      const [b, j] = JSON.parse(message.payload.toString()) as [number, number];
      const index = b * RECORDS_PER_BODY + j;
      seen[index] = Math.min(255, (seen[index] ?? 0) + 1);
    }
  } finally {
    await client.close();
  }
  return seen;
}

describe('webhook-to-topic under a flood of tiny records', () => {
  it('stores every record of 16 × 512 KiB NDJSON bodies (8 at a time), each answered after its records are stored, under 150 MB RSS', async () => {
    const topic = uniqueTopic('hook-flood');
    const hook = await startWebhookToTopic(topic);
    const retries = new Map<number, number>();
    const answers: Answer[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: CONCURRENT }, (_, i) =>
            postUntilStored(hook.url, round * CONCURRENT + i, retries),
          ),
        )),
      );
    }
    const peak = (await peakRssBytes(hook.child.pid ?? -1)) ?? Infinity;
    console.log(
      `webhook flood: ${BODIES * RECORDS_PER_BODY} records, retries ${JSON.stringify(Object.fromEntries(retries))}, peak RSS ${megabytes(peak)}`,
    );
    expect(answers).toEqual(Array.from({ length: BODIES }, () => ({ status: 200, count: RECORDS_PER_BODY })));

    const seen = await recordCounts(topic);
    const missing = seen.reduce((sum, times) => sum + (times === 0 ? 1 : 0), 0);
    // Only a request answered 503 after part of it was stored may duplicate when retried.
    const duplicates = seen.reduce((sum, times) => sum + Math.max(0, times - 1), 0);
    console.log(`webhook flood: ${missing} missing, ${duplicates} duplicates`);
    expect(missing).toBe(0);
    if ((retries.get(503) ?? 0) === 0) expect(duplicates).toBe(0);

    expect(peak).toBeLessThan(RSS_BOUND);
    hook.child.kill('SIGTERM');
    expect(await hook.exited).toBe(0);
  }, 300_000);
});

/**
 * `pulsar-ws sidecar` as a child process with three pipelines (file → topic, topic → S3 on
 * VersityGW, webhook → topic), against the embedded broker or real Pulsar (PULSAR_WS_URL): /readyz
 * turns 200, /metrics counts equal the messages moved, /readyz turns 503 naming the pipelines when
 * their broker connection is cut and 200 after it recovers. A pipeline whose bucket does not exist
 * keeps restarting while the others move data.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { titled, versitygwMissing } from '../helpers/prerequisites.js';
import { useS3Server } from '../helpers/s3-server.js';
import {
  childEnv,
  freePort,
  killSidecar,
  metric,
  readyz,
  scrape,
  startSidecar,
  until,
  type SidecarProcess,
} from '../helpers/sidecar.js';
import { PulsarWsClient } from '../../src/index.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { topicPayloads } from '../helpers/topics.js';

const target = useTarget();
const s3Missing = versitygwMissing();
const s3 = useS3Server();
let dir: string;
let proxy: FaultProxy;
const running: SidecarProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-sidecar-'));
  proxy = await startFaultProxy(target.wsUrl);
});
afterEach(async () => {
  for (const sidecar of running.splice(0)) await killSidecar(sidecar);
});
afterAll(async () => {
  await proxy.close();
  await rm(dir, { recursive: true, force: true });
});

function s3Client(): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

function s3Env(): NodeJS.ProcessEnv {
  return childEnv({
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
  });
}

/** Every line of every object in the bucket. */
async function bucketLines(bucket: string): Promise<string[]> {
  const client = s3Client();
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  const lines: string[] = [];
  for (const object of listed.Contents ?? []) {
    const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
    lines.push(...((await body.Body?.transformToString()) ?? '').split('\n').filter((line) => line !== ''));
  }
  return lines;
}

async function post(url: string, body: string): Promise<number> {
  return (await fetch(url, { method: 'POST', body })).status;
}

interface ThreePipelines {
  readonly config: string;
  readonly input: string;
  readonly logTopic: string;
  readonly eventTopic: string;
  readonly bucket: string;
  readonly webhookUrl: string;
}

async function threePipelines(
  options: { bucket?: string; createBucket?: boolean } = {},
): Promise<ThreePipelines> {
  const name = uniqueTopic('sc');
  const input = join(dir, `${name}.log`);
  await writeFile(input, '');
  const bucket = options.bucket ?? `sidecar-${process.pid}-${Date.now().toString(36)}`;
  if (options.createBucket !== false) await s3Client().send(new CreateBucketCommand({ Bucket: bucket }));
  const port = await freePort();
  const logTopic = `${name}-log`;
  const eventTopic = `${name}-events`;
  const config = join(dir, `${name}.yaml`);
  await writeFile(
    config,
    `connection:
  url: ${proxy.url}
http:
  listen: 127.0.0.1:0
shutdownTimeout: 20s
restart: { initialDelay: 100ms, maxDelay: 500ms }
pipelines:
  app-log:
    source: { type: file, path: ${input}, follow: true, checkpoint: ${join(dir, `${name}.checkpoint.json`)} }
    sink:   { type: topic, topic: ${logTopic} }
  archive:
    source: { type: topic, topic: ${logTopic}, subscription: archive }
    sink:   { type: s3, bucket: ${bucket}, endpoint: ${s3.endpoint}, batchInterval: 500ms, format: lines }
  hooks:
    source: { type: webhook, port: ${port}, path: /events }
    sink:   { type: topic, topic: ${eventTopic} }
`,
  );
  return { config, input, logTopic, eventTopic, bucket, webhookUrl: `http://127.0.0.1:${port}/events` };
}

describe.skipIf(s3Missing !== undefined)(titled('pulsar-ws sidecar', s3Missing), () => {
  it('three pipelines: /readyz 200, /metrics counts equal what moved, 503 naming the pipelines while the broker is cut off, 200 after', async () => {
    const setup = await threePipelines();
    const sidecar = await startSidecar(setup.config, s3Env());
    running.push(sidecar);
    await until('/readyz 200', async () => (await readyz(sidecar.url)).status === 200);

    const lines = Array.from({ length: 300 }, (_, i) => `line-${i}`);
    await writeFile(setup.input, `${lines.join('\n')}\n`);
    const events = Array.from({ length: 20 }, (_, i) => `event-${i}`);
    for (const event of events) expect(await post(setup.webhookUrl, event)).toBe(200);

    const samples = await until('every message moved', async () => {
      const now = await scrape(sidecar.url);
      const done =
        metric(now, 'pulsar_ws_messages_out_total', 'app-log') === lines.length &&
        metric(now, 'pulsar_ws_messages_out_total', 'archive') === lines.length &&
        metric(now, 'pulsar_ws_messages_out_total', 'hooks') === events.length;
      return done && now;
    });
    for (const [pipeline, count] of [
      ['app-log', lines.length],
      ['archive', lines.length],
      ['hooks', events.length],
    ] as const) {
      expect(metric(samples, 'pulsar_ws_messages_in_total', pipeline)).toBe(count);
      expect(metric(samples, 'pulsar_ws_in_flight', pipeline)).toBe(0);
      expect(metric(samples, 'pulsar_ws_pipeline_up', pipeline)).toBe(1);
    }
    expect(metric(samples, 'pulsar_ws_bytes_out_total', 'app-log')).toBe(lines.join('').length);
    expect(metric(samples, 'pulsar_ws_acks_total', 'archive')).toBe(lines.length);
    expect(metric(samples, 'pulsar_ws_webhook_requests_total', 'hooks', ',status="200"')).toBe(events.length);
    expect(metric(samples, 'pulsar_ws_s3_objects_total', 'archive')).toBeGreaterThanOrEqual(1);
    expect([...samples.keys()].some((key) => key.startsWith('process_cpu_user_seconds_total'))).toBe(true);
    expect(await topicPayloads(target, setup.logTopic)).toEqual(lines);
    expect(await topicPayloads(target, setup.eventTopic)).toEqual(events);
    expect((await bucketLines(setup.bucket)).sort()).toEqual([...lines].sort());

    // Cut every connection and keep the broker unreachable: each pipeline reconnects, and is named.
    const brokerPort = Number(new URL(target.wsUrl).port);
    proxy.retarget(await freePort());
    proxy.cut();
    const down = await until('/readyz 503 naming every pipeline', async () => {
      const answer = await readyz(sidecar.url);
      return answer.status === 503 && Object.keys(answer.body.pipelines as object).length === 3 && answer;
    });
    const named = down.body.pipelines as Record<string, { state: string }>;
    expect(Object.keys(named).sort()).toEqual(['app-log', 'archive', 'hooks']);
    expect(['reconnecting', 'connecting']).toContain(named['app-log']?.state);
    proxy.retarget(brokerPort);
    await until('/readyz 200 again', async () => (await readyz(sidecar.url)).status === 200, 30_000);
    const after = await scrape(sidecar.url);
    expect(metric(after, 'pulsar_ws_reconnects_total', 'app-log')).toBeGreaterThanOrEqual(1);

    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  }, 90_000);

  it('a pipeline whose bucket does not exist keeps restarting and /readyz names it, while the others move data', async () => {
    const setup = await threePipelines({ bucket: `missing-${process.pid}`, createBucket: false });
    const sidecar = await startSidecar(setup.config, s3Env());
    running.push(sidecar);
    const lines = Array.from({ length: 50 }, (_, i) => `kept-${i}`);
    await writeFile(setup.input, `${lines.join('\n')}\n`);
    await until('the webhook serves', async () => (await post(setup.webhookUrl, 'still-served')) === 200);
    await until('app-log moved everything', async () => {
      const now = await scrape(sidecar.url);
      return metric(now, 'pulsar_ws_messages_out_total', 'app-log') === lines.length;
    });
    const samples = await until('archive restarted twice', async () => {
      const now = await scrape(sidecar.url);
      return metric(now, 'pulsar_ws_restarts_total', 'archive') >= 2 && now;
    });
    expect(metric(samples, 'pulsar_ws_pipeline_up', 'archive')).toBe(0);
    expect(metric(samples, 'pulsar_ws_send_errors_total', 'archive')).toBeGreaterThanOrEqual(2);
    expect(metric(samples, 'pulsar_ws_restarts_total', 'app-log')).toBe(0);
    const answer = await readyz(sidecar.url);
    expect(answer.status).toBe(503);
    const named = answer.body.pipelines as Record<string, { state: string; reason: string }>;
    expect(Object.keys(named)).toEqual(['archive']);
    expect(named.archive?.state).toBe('failed');
    expect(named.archive?.reason).toMatch(/bucket "missing-\d+" does not exist/);
    expect(await topicPayloads(target, setup.logTopic)).toEqual(lines);
    expect(await topicPayloads(target, setup.eventTopic)).toEqual(['still-served']);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  }, 60_000);

  it('a sink holding a batch with no progress is "stalled"; SIGTERM uploads the open batch before exiting 0', async () => {
    const topic = uniqueTopic('stall');
    const bucket = `stall-${process.pid}-${Date.now().toString(36)}`;
    await s3Client().send(new CreateBucketCommand({ Bucket: bucket }));
    const config = join(dir, `${topic}.yaml`);
    await writeFile(
      config,
      `connection: { url: ${target.wsUrl} }
http: { listen: 127.0.0.1:0 }
stallTimeout: 300ms
pipelines:
  slow:
    source: { type: topic, topic: ${topic}, subscription: archive }
    sink: { type: s3, bucket: ${bucket}, endpoint: ${s3.endpoint}, batchInterval: 1h, format: lines }
`,
    );
    const sidecar = await startSidecar(config, s3Env());
    running.push(sidecar);
    await until('ready', async () => (await readyz(sidecar.url)).status === 200);
    const client = new PulsarWsClient({ url: target.wsUrl });
    const messages = Array.from({ length: 10 }, (_, i) => `held-${i}`);
    const producer = client.producer(topic);
    for (const message of messages) producer.write(message);
    await new Promise<void>((resolve, reject) =>
      producer.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
    await client.close();
    const stalled = await until('stalled', async () => {
      const answer = await readyz(sidecar.url);
      const slow = (
        answer.body.pipelines as Record<string, { state: string; reason?: string; inFlight: number }>
      ).slow;
      // Messages may arrive in more than one delivery: wait for all ten.
      return answer.status === 503 && slow?.state === 'stalled' && slow.inFlight === messages.length && slow;
    });
    expect(stalled.reason).toMatch(/^10 messages in flight and none written for \d+s$/);
    expect(await bucketLines(bucket)).toEqual([]);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
    expect((await bucketLines(bucket)).sort()).toEqual(messages);
  }, 60_000);
});

/**
 * The sidecar's shutdown and reload, as a child process against the embedded broker or real Pulsar
 * (PULSAR_WS_URL): SIGTERM during load loses nothing (every line ends on the topic and in the file
 * sink, counted, after a restart resumes) and exits 0 within the timeout; a drain the timeout cuts
 * exits 3 with nothing acknowledged past what was written; a second signal exits at once; SIGHUP
 * restarts only the pipelines that changed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  killSidecar,
  metric,
  readyz,
  scrape,
  startSidecar,
  until,
  type SidecarProcess,
} from '../helpers/sidecar.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { expectAllDelivered, topicPayloads } from '../helpers/topics.js';

const target = useTarget();
let dir: string;
const running: SidecarProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-sidecar-drain-'));
});
afterEach(async () => {
  for (const sidecar of running.splice(0)) await killSidecar(sidecar);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(config: string): Promise<SidecarProcess> {
  const sidecar = await startSidecar(config);
  running.push(sidecar);
  return sidecar;
}

async function fileLines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');
}

/** file → topic → file, with a checkpoint. */
async function relayConfig(url: string, shutdownTimeout: string) {
  const name = uniqueTopic('drain');
  const files = {
    config: join(dir, `${name}.yaml`),
    input: join(dir, `${name}.in`),
    output: join(dir, `${name}.out`),
    checkpoint: join(dir, `${name}.checkpoint.json`),
  };
  await writeFile(
    files.config,
    `connection: { url: ${url} }
http: { listen: 127.0.0.1:0 }
shutdownTimeout: ${shutdownTimeout}
pipelines:
  in:
    source: { type: file, path: ${files.input}, follow: true, checkpoint: ${files.checkpoint} }
    sink: { type: topic, topic: ${name} }
  out:
    source: { type: topic, topic: ${name}, subscription: relay }
    sink: { type: file, path: ${files.output}, fsyncInterval: 100ms }
`,
  );
  return { ...files, topic: name };
}

describe('sidecar shutdown', () => {
  it('SIGTERM during load: exits 0 within the timeout, and every line is on the topic and in the file sink after a restart (counted)', async () => {
    const relay = await relayConfig(target.wsUrl, '30s');
    const lines = Array.from({ length: 30_000 }, (_, i) => `line-${i}`);
    await writeFile(relay.input, `${lines.join('\n')}\n`);
    const first = await start(relay.config);
    await until('load under way', async () => {
      const samples = await scrape(first.url);
      return metric(samples, 'pulsar_ws_messages_out_total', 'in') >= 1000;
    });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const checkpoint = JSON.parse(await readFile(relay.checkpoint, 'utf8')) as {
      files: Record<string, { messages: number }>;
    };
    const acknowledged = Object.values(checkpoint.files)[0]?.messages ?? 0;
    console.log(`drained at ${acknowledged} of ${lines.length} lines`);
    // A clean drain: the topic holds exactly what the checkpoint says was acknowledged.
    expect(await topicPayloads(target, relay.topic)).toEqual(lines.slice(0, acknowledged));

    const second = await start(relay.config);
    await until(
      'the rest moved after the restart',
      async () => {
        const samples = await scrape(second.url);
        const written = await fileLines(relay.output);
        return metric(samples, 'pulsar_ws_in_flight', 'in') === 0 && new Set(written).size === lines.length;
      },
      60_000,
    );
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(await topicPayloads(target, relay.topic)).toEqual(lines);
    expectAllDelivered('file sink after SIGTERM and restart', await fileLines(relay.output), lines);
  }, 120_000);

  it('a drain the timeout cuts exits 3 and acknowledges nothing it did not write', async () => {
    const unreachable = `ws://127.0.0.1:${await freePort()}`;
    const relay = await relayConfig(unreachable, '1s');
    await writeFile(relay.input, 'a\nb\nc\n');
    const sidecar = await start(relay.config);
    await until('lines taken from the file', async () => {
      const samples = await scrape(sidecar.url);
      return metric(samples, 'pulsar_ws_in_flight', 'in') > 0;
    });
    const answer = await readyz(sidecar.url);
    expect(answer.status).toBe(503);
    expect(answer.body.pipelines).toMatchObject({
      in: { state: 'connecting' },
      out: { state: 'connecting' },
    });
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(3);
    expect(sidecar.stderr()).toMatch(/shutdown timeout/);
    const checkpoint = await readFile(relay.checkpoint, 'utf8').catch(() => undefined);
    expect(checkpoint === undefined || !checkpoint.includes('"messages": 3')).toBe(true);
  }, 30_000);

  it('a second signal exits at once (130)', async () => {
    const relay = await relayConfig(`ws://127.0.0.1:${await freePort()}`, '5m');
    await writeFile(relay.input, 'a\n');
    const sidecar = await start(relay.config);
    await until(
      'a line in flight',
      async () => metric(await scrape(sidecar.url), 'pulsar_ws_in_flight', 'in') > 0,
    );
    sidecar.child.kill('SIGTERM');
    await until('draining', () => Promise.resolve(sidecar.stderr().includes('draining')));
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(130);
  }, 30_000);
});

describe('sidecar reload (SIGHUP)', () => {
  it('restarts the changed pipeline, starts the new one, leaves the others running', async () => {
    const name = uniqueTopic('reload');
    const config = join(dir, `${name}.yaml`);
    const input = join(dir, `${name}.in`);
    await writeFile(input, 'one\n');
    const [portB, portC] = [await freePort(), await freePort()];
    const write = (hookPath: string, extra: string) =>
      writeFile(
        config,
        `connection: { url: ${target.wsUrl} }
http: { listen: 127.0.0.1:0 }
pipelines:
  tail:
    source: { type: file, path: ${input}, follow: true }
    sink: { type: topic, topic: ${name}-tail }
  hook:
    source: { type: webhook, port: ${portB}, path: ${hookPath} }
    sink: { type: topic, topic: ${name}-hook }
${extra}`,
      );
    await write('/one', '');
    const sidecar = await start(config);
    await until('ready', async () => (await readyz(sidecar.url)).status === 200);
    expect((await fetch(`http://127.0.0.1:${portB}/one`, { method: 'POST', body: 'x' })).status).toBe(200);

    await write(
      '/two',
      `  added:\n    source: { type: webhook, port: ${portC} }\n    sink: { type: topic, topic: ${name}-added }\n`,
    );
    sidecar.child.kill('SIGHUP');
    await until('the changed pipeline serves its new path', async () => {
      const response = await fetch(`http://127.0.0.1:${portB}/two`, { method: 'POST', body: 'y' });
      return response.status === 200;
    });
    await until('the new pipeline serves', async () => {
      const response = await fetch(`http://127.0.0.1:${portC}/`, { method: 'POST', body: 'z' });
      return response.status === 200;
    });
    await writeFile(input, 'one\ntwo\n');
    await until('the untouched pipeline keeps moving', async () => {
      return metric(await scrape(sidecar.url), 'pulsar_ws_messages_out_total', 'tail') === 2;
    });
    const started = (pipeline: string) =>
      sidecar
        .stderr()
        .split('\n')
        .filter((line) => line.includes(`"pipeline":"${pipeline}"`) && line.includes('pipeline started'))
        .length;
    expect(started('tail')).toBe(1);
    expect(started('hook')).toBe(2);
    expect(started('added')).toBe(1);

    // A broken config changes nothing.
    await writeFile(config, 'pipelines: {}\n');
    sidecar.child.kill('SIGHUP');
    await until('the refusal is logged', () => Promise.resolve(sidecar.stderr().includes('reload refused')));
    expect((await readyz(sidecar.url)).status).toBe(200);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  }, 60_000);
});

describe('sidecar drain of a webhook', () => {
  it('answers new requests 503 with Retry-After while requests in flight finish; the timeout cuts them (exit 3)', async () => {
    const name = uniqueTopic('hookdrain');
    const config = join(dir, `${name}.yaml`);
    const port = await freePort();
    await writeFile(
      config,
      `connection: { url: ws://127.0.0.1:${await freePort()} }
http: { listen: 127.0.0.1:0 }
shutdownTimeout: 3s
pipelines:
  hook:
    source: { type: webhook, port: ${port} }
    sink: { type: topic, topic: ${name} }
`,
    );
    const sidecar = await start(config);
    const url = `http://127.0.0.1:${port}/`;
    // The broker is unreachable: this request waits for an acknowledgement that does not come.
    const pending = await until('the webhook takes a request', async () => {
      const request = fetch(url, { method: 'POST', body: 'waiting' });
      const settled = await Promise.race([
        request.then(
          () => 'answered' as const,
          () => 'refused' as const,
        ),
        new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 300)),
      ]);
      // Wrapped: returning the promise itself would wait for it.
      return settled === 'pending' && { request };
    });
    sidecar.child.kill('SIGTERM');
    await until('draining', () => Promise.resolve(sidecar.stderr().includes('draining')));
    const refused = await fetch(url, { method: 'POST', body: 'late' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect((await pending.request).status).toBe(503);
    expect(await sidecar.exited).toBe(3);
  }, 30_000);
});

describe('sidecar isolation', () => {
  it('a pipeline whose disk is full (/dev/full) fails and restarts with backoff; the other keeps moving', async () => {
    const name = uniqueTopic('full');
    const config = join(dir, `${name}.yaml`);
    const input = join(dir, `${name}.in`);
    const lines = Array.from({ length: 20 }, (_, i) => `ok-${i}`);
    await writeFile(input, `${lines.join('\n')}\n`);
    await writeFile(
      config,
      `connection: { url: ${target.wsUrl} }
http: { listen: 127.0.0.1:0 }
restart: { initialDelay: 100ms, maxDelay: 400ms }
pipelines:
  feed:
    source: { type: file, path: ${input}, follow: true }
    sink: { type: topic, topic: ${name} }
  full:
    source: { type: topic, topic: ${name}, subscription: to-disk }
    sink: { type: file, path: /dev/full, fsyncInterval: 50ms }
`,
    );
    const sidecar = await start(config);
    const samples = await until('the full disk restarted twice while feed moved everything', async () => {
      const now = await scrape(sidecar.url);
      return (
        metric(now, 'pulsar_ws_restarts_total', 'full') >= 2 &&
        metric(now, 'pulsar_ws_messages_out_total', 'feed') === lines.length &&
        now
      );
    });
    expect(metric(samples, 'pulsar_ws_restarts_total', 'feed')).toBe(0);
    expect(metric(samples, 'pulsar_ws_messages_out_total', 'full')).toBe(0);
    const answer = await until('/readyz names the failed pipeline', async () => {
      const now = await readyz(sidecar.url);
      const full = (now.body.pipelines as Record<string, { state: string; reason?: string }>).full;
      return now.status === 503 && full?.state === 'failed' && now;
    });
    expect(Object.keys(answer.body.pipelines as object)).toEqual(['full']);
    expect((answer.body.pipelines as Record<string, { reason: string }>).full?.reason).toMatch(
      /ENOSPC|no space/i,
    );
    expect(await topicPayloads(target, name)).toEqual(lines);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  }, 60_000);
});

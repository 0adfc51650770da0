/**
 * The sidecar's opt-in `POST /publish/{topic}`, against the embedded broker or real Pulsar
 * (PULSAR_WS_URL): off by default (404); on, a body is published the webhook's way and answered 200
 * with the ids once acknowledged; bad topics, empty and oversized bodies are refused with a reason.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killSidecar, readyz, startSidecar, until, type SidecarProcess } from '../helpers/sidecar.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { readTopic } from '../helpers/topics.js';

const target = useTarget();
let dir: string;
const running: SidecarProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-sidecar-publish-'));
});
afterEach(async () => {
  for (const sidecar of running.splice(0)) await killSidecar(sidecar);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sidecarWith(http: string): Promise<SidecarProcess> {
  const file = join(dir, `${uniqueTopic('cfg')}.yaml`);
  await writeFile(
    file,
    `connection: { url: ${target.wsUrl} }
http: ${http}
pipelines:
  hold:
    source: { type: topic, topic: ${uniqueTopic('unused')}, subscription: s }
    sink: { type: stdout }
`,
  );
  const sidecar = await startSidecar(file);
  running.push(sidecar);
  await until('ready', async () => (await readyz(sidecar.url)).status === 200);
  return sidecar;
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', body, headers });
  return {
    status: response.status,
    body: (await response.json()) as { messageIds?: string[]; error?: string },
  };
}

describe('POST /publish/{topic}', () => {
  it('is off unless enabled', async () => {
    const sidecar = await sidecarWith('{ listen: 127.0.0.1:0 }');
    const answer = await post(`${sidecar.url}/publish/anything`, 'x');
    expect(answer.status).toBe(404);
    expect(answer.body.error).toMatch(/http\.publish/);
  });

  it('publishes the body the way the webhook does and answers after the ack', async () => {
    const sidecar = await sidecarWith('{ listen: 127.0.0.1:0, publish: true, publishMaxBodyBytes: 1KiB }');
    const topic = uniqueTopic('publish');
    const raw = await post(`${sidecar.url}/publish/${topic}`, 'hello', {
      'x-message-key': 'k',
      'x-property-app': 'a',
    });
    expect(raw.status).toBe(200);
    const full = encodeURIComponent(`persistent://public/default/${topic}`);
    const ndjson = await post(`${sidecar.url}/publish/${full}`, '{"n":1}\n{"n":2}\n', {
      'content-type': 'application/x-ndjson',
    });
    expect(ndjson.status).toBe(200);
    expect(ndjson.body.messageIds).toHaveLength(2);
    const stored = await readTopic(target, topic);
    expect(stored.map((message) => message.payload.toString())).toEqual(['hello', '{"n":1}', '{"n":2}']);
    expect(stored.map((message) => message.messageId)).toEqual([
      ...(raw.body.messageIds ?? []),
      ...(ndjson.body.messageIds ?? []),
    ]);
    expect(stored[0]).toMatchObject({ key: 'k', properties: { app: 'a' } });

    expect((await post(`${sidecar.url}/publish/${topic}`, '')).status).toBe(400);
    const big = await post(`${sidecar.url}/publish/${topic}`, 'x'.repeat(1025));
    expect(big.status).toBe(413);
    const badLine = await post(`${sidecar.url}/publish/${topic}`, '{"ok":1}\nnope\n', {
      'content-type': 'application/x-ndjson',
    });
    expect(badLine).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/line 2/) as string },
    });
    const badTopic = await post(`${sidecar.url}/publish/${encodeURIComponent('a/b/c/d/e')}`, 'x');
    expect(badTopic.status).toBe(400);
    expect((await fetch(`${sidecar.url}/publish/${topic}`)).status).toBe(405);
  });
});

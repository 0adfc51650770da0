/**
 * The sidecar's opt-in `POST /publish/{topic}`, against the embedded broker or real Pulsar
 * (PULSAR_WS_URL): off by default (404); on, a body is published the webhook's way and answered 200
 * with the ids once acknowledged; bad topics, bad %-escapes, empty and oversized bodies are refused
 * with a reason; a body trickled slower than `publish.bodyTimeout` gets 408. With a token file,
 * requests without the bearer token are refused on their headers (the body unread) and a rotated
 * file is taken up (the old token refused within about a second, or at once on SIGHUP; a missing
 * file refuses everyone); a topic allow-list answers 403 naming the topic;
 * `publish.listen` serves publishing apart from /metrics; a sidecar that would expose /publish
 * beyond loopback without a token does not start.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/sidecar/config.js';
import { headWithoutBody, tricklingBody } from '../helpers/http-raw.js';
import {
  killSidecar,
  readyz,
  runCli,
  scrape,
  startSidecar,
  until,
  type SidecarProcess,
} from '../helpers/sidecar.js';
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

function configWith(http: string, publish = '{}'): string {
  return `connection: { url: ${target.wsUrl} }
http: ${http}
publish: ${publish}
pipelines:
  hold:
    source: { type: topic, topic: ${uniqueTopic('unused')}, subscription: s }
    sink: { type: stdout }
`;
}

async function sidecarWith(http: string, publish = '{}'): Promise<SidecarProcess> {
  const file = join(dir, `${uniqueTopic('cfg')}.yaml`);
  await writeFile(file, configWith(http, publish));
  const sidecar = await startSidecar(file);
  running.push(sidecar);
  await until('ready', async () => (await readyz(sidecar.url)).status === 200);
  return sidecar;
}

/** The own publish listener's URL, from the line the sidecar prints. */
function publishUrlOf(sidecar: SidecarProcess): string {
  const match = /publishing at (http:\/\/\S+)\/publish\/\{topic\}/.exec(sidecar.stderr());
  if (match?.[1] === undefined) throw new Error(`no publish listener in:\n${sidecar.stderr()}`);
  return match[1];
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', body, headers });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as { count?: number; messageIds?: string[]; error?: string },
  };
}

describe('POST /publish/{topic}', () => {
  it('is off unless enabled', async () => {
    const sidecar = await sidecarWith('{ listen: 127.0.0.1:0 }');
    const answer = await post(`${sidecar.url}/publish/anything`, 'x');
    expect(answer.status).toBe(404);
    expect(answer.body.error).toMatch(/publish\.enabled/);
  });

  it('publishes the body the way the webhook does and answers after the ack', async () => {
    const sidecar = await sidecarWith('{ listen: 127.0.0.1:0 }', '{ enabled: true, maxBodyBytes: 1KiB }');
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
    expect(ndjson.body).toMatchObject({ count: 2 });
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
    const badEscape = await post(`${sidecar.url}/publish/bad%zzescape`, 'x');
    expect(badEscape).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/bad %-escape/) as string },
    });
    const samples = await scrape(sidecar.url);
    expect(samples.get('pulsar_ws_publish_requests_total{status="200"}')).toBe(2);
    expect(samples.get('pulsar_ws_publish_requests_total{status="400"}')).toBe(4);
    expect((await fetch(`${sidecar.url}/publish/${topic}`)).status).toBe(405);
  });

  it('with a token file: 401 on the headers alone (body unread, connection closed) without the bearer token; a rotated file is taken up; topics outside the allow-list get 403', async () => {
    const tokenFile = join(dir, `${uniqueTopic('token')}.txt`);
    await writeFile(tokenFile, 'first-token\n');
    const allowed = uniqueTopic('allowed');
    const forbidden = uniqueTopic('forbidden');
    const sidecar = await sidecarWith(
      '{ listen: 127.0.0.1:0 }',
      `{ enabled: true, tokenFile: ${tokenFile}, topics: [${allowed}] }`,
    );
    const url = `${sidecar.url}/publish/${allowed}`;
    for (const authorization of [undefined, 'Bearer wrong-token', 'Basic Zmlyc3QtdG9rZW4=']) {
      const answer = await headWithoutBody(
        url,
        { expect: '100-continue', ...(authorization === undefined ? {} : { authorization }) },
        1024 * 1024,
      );
      expect(answer).toMatchObject({
        status: 401,
        closedByServer: true,
        continued: false,
        headers: { connection: 'close', 'www-authenticate': 'Bearer realm="pulsar-ws publish"' },
      });
    }
    const ok = await post(url, 'hello', { authorization: 'Bearer first-token' });
    expect(ok).toMatchObject({ status: 200, body: { count: 1 } });
    const refused = await post(`${sidecar.url}/publish/${forbidden}`, 'nope', {
      authorization: 'Bearer first-token',
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe(
      `publishing to persistent://public/default/${forbidden} is not allowed (publish.topics)`,
    );
    // The file is rotated: the new token works (the file is checked for a change at most once a second).
    await writeFile(tokenFile, 'second-token\n');
    await until('the rotated token accepted', async () => {
      const answer = await post(url, 'rotated', { authorization: 'Bearer second-token' });
      return answer.status === 200;
    });
    expect((await post(url, 'old', { authorization: 'Bearer first-token' })).status).toBe(401);
    expect((await readTopic(target, allowed)).map((m) => m.payload.toString())).toEqual(['hello', 'rotated']);
    // Nothing was published to it (never created: read back as empty).
    expect(await readTopic(target, forbidden)).toEqual([]);
  });

  it('a rotated token file revokes the old token without anyone presenting the new one; SIGHUP re-reads it at once; a missing file refuses every token', async () => {
    const tokenFile = join(dir, `${uniqueTopic('token')}.txt`);
    await writeFile(tokenFile, 'leaked-token\n');
    const sidecar = await sidecarWith(
      '{ listen: 127.0.0.1:0 }',
      `{ enabled: true, tokenFile: ${tokenFile} }`,
    );
    const url = `${sidecar.url}/publish/${uniqueTopic('revoked')}`;
    const as = (token: string) => post(url, 'x', { authorization: `Bearer ${token}` });
    expect((await as('leaked-token')).status).toBe(200);
    await writeFile(tokenFile, 'fresh-token\n');
    // Only the old token is presented: the change is found by the file check, not by a mismatch.
    await until('the old token refused', async () => (await as('leaked-token')).status === 401, 5000);
    expect((await as('fresh-token')).status).toBe(200);

    await writeFile(tokenFile, 'hup-token\n');
    sidecar.child.kill('SIGHUP');
    const reread = /publish token file re-read.*"changed":true|"changed":true.*publish token file re-read/;
    await until('the re-read logged', () => Promise.resolve(reread.test(sidecar.stderr())));
    expect((await as('fresh-token')).status).toBe(401);
    expect((await as('hup-token')).status).toBe(200);

    await rm(tokenFile);
    await until('every token refused', async () => (await as('hup-token')).status === 401, 5000);
    await writeFile(tokenFile, 'restored-token\n');
    await until('the restored token accepted', async () => (await as('restored-token')).status === 200, 5000);
    expect((await as('hup-token')).status).toBe(401);
  });

  it('a body trickled slower than publish.bodyTimeout: 408 and the connection closed, the request slot free again', async () => {
    const sidecar = await sidecarWith(
      '{ listen: 127.0.0.1:0 }',
      '{ enabled: true, maxInFlight: 1, bodyTimeout: 300ms }',
    );
    const topic = uniqueTopic('publish-slow-body');
    const slow = await tricklingBody(`${sidecar.url}/publish/${topic}`, {}, 1000);
    expect(slow).toMatchObject({ status: 408, closedByServer: true, headers: { connection: 'close' } });
    expect(slow.json?.error).toMatch(/^the body did not arrive within 300 ms \(publish\.bodyTimeout\)/);
    const answer = await post(`${sidecar.url}/publish/${topic}`, 'on time');
    expect(answer).toMatchObject({ status: 200, body: { count: 1 } });
  });

  it('publish.listen: publishing on a listener of its own, not beside /metrics (and nothing else there)', async () => {
    const sidecar = await sidecarWith('{ listen: 127.0.0.1:0 }', '{ enabled: true, listen: 127.0.0.1:0 }');
    const publishUrl = publishUrlOf(sidecar);
    expect(publishUrl).not.toBe(sidecar.url);
    const topic = uniqueTopic('own-listener');
    const beside = await post(`${sidecar.url}/publish/${topic}`, 'x');
    expect(beside.status).toBe(404);
    expect(beside.body.error).toMatch(/own listener \(publish\.listen\)/);
    expect((await fetch(`${publishUrl}/metrics`)).status).toBe(404);
    const own = await post(`${publishUrl}/publish/${topic}`, '{"a":1}\n{"a":2}\n', {
      'content-type': 'application/x-ndjson',
    });
    expect(own).toMatchObject({ status: 200, body: { count: 2 } });
    expect((await readTopic(target, topic)).map((m) => m.payload.toString())).toEqual(['{"a":1}', '{"a":2}']);
  });

  it('bounds messages in flight per request and per endpoint: large NDJSON bodies stream through small windows, every record stored', async () => {
    const sidecar = await sidecarWith(
      '{ listen: 127.0.0.1:0 }',
      '{ enabled: true, maxMessagesInFlight: 5, maxRequestMessagesInFlight: 3 }',
    );
    const topic = uniqueTopic('publish-window');
    const bodies = Array.from({ length: 3 }, (_, r) =>
      Array.from({ length: 1200 }, (_, i) => `[${r},${i}]`).join('\n'),
    );
    const answers = await Promise.all(
      bodies.map((body) =>
        post(`${sidecar.url}/publish/${topic}`, body, { 'content-type': 'application/x-ndjson' }),
      ),
    );
    expect(answers.map((answer) => [answer.status, answer.body.count])).toEqual([
      [200, 1200],
      [200, 1200],
      [200, 1200],
    ]);
    const stored = new Set((await readTopic(target, topic)).map((m) => m.payload.toString()));
    expect(stored.size).toBe(3600);
  });

  it('refuses to start when /publish would listen beyond loopback without a token file', async () => {
    const problems = (http: string, publish: string) => {
      const result = parseConfig(configWith(http, publish), { env: {} });
      return result.ok
        ? []
        : result.problems.map((problem) => `${problem.path.join('.')}: ${problem.message}`);
    };
    expect(problems('{ listen: 0.0.0.0:9464 }', '{ enabled: true }')).toEqual([
      'publish.tokenFile: required: POST /publish listens on 0.0.0.0, which is not loopback only, so callers must send a bearer token (or listen on 127.0.0.1)',
    ]);
    expect(problems('{ listen: 127.0.0.1:9464 }', '{ enabled: true, listen: "[::]:9465" }')).toHaveLength(1);
    expect(problems('{ listen: 0.0.0.0:9464 }', '{ enabled: true, listen: 127.0.0.1:9465 }')).toEqual([]);
    expect(problems('{ listen: 0.0.0.0:9464 }', '{ enabled: false }')).toEqual([]);
    expect(problems('{ listen: 127.0.0.1:9464 }', '{ enabled: true, listen: 127.0.0.1:9464 }')).toEqual([
      'publish.listen: port 9464 is taken by http.listen',
    ]);
    const moved = parseConfig(configWith('{ listen: 127.0.0.1:0, publish: true }'), { env: {} });
    expect(moved.ok ? [] : moved.problems.map((problem) => problem.message)).toEqual([
      'unknown key (moved to publish.enabled)',
    ]);

    const file = join(dir, `${uniqueTopic('cfg')}.yaml`);
    await writeFile(file, configWith('{ listen: 0.0.0.0:0 }', '{ enabled: true }'));
    const run = await runCli(['sidecar', '--config', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/publish\.tokenFile: required: POST \/publish listens on 0\.0\.0\.0/);
    const emptyToken = join(dir, `${uniqueTopic('token')}.txt`);
    await writeFile(emptyToken, '\n');
    await writeFile(file, configWith('{ listen: 0.0.0.0:0 }', `{ enabled: true, tokenFile: ${emptyToken} }`));
    const empty = await runCli(['sidecar', '--config', file]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain(`publish.tokenFile: ${emptyToken} is empty`);
  });
});

/**
 * The sidecar with `connection.tokenFile` under rotation (docs/sidecar.md, "Rotating the token"): a
 * topic → file pipeline and a webhook → topic pipeline connect through a fault proxy with token A.
 * SIGHUP with an empty file is refused naming it; the file is rotated to B and SIGHUP logs the
 * re-read without restarting any pipeline; the proxy cuts every connection; the reconnects' handshakes,
 * as the proxy saw them, carried B and the server took them, and every message arrives once. A file
 * that holds an expired token at a reconnect fails the pipelines (401), which restart after their
 * backoff and recover once the file holds a valid token. The expired token is made expired, so
 * nothing waits for a token to expire or depends on how fast the sidecar starts. Runs against the
 * embedded broker with token auth, or Apache Pulsar with token auth (PULSAR_AUTH_WS_URL, .ci/run).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { range } from '../helpers/publish.js';
import {
  childEnv,
  freePort,
  killSidecar,
  readyz,
  startSidecar,
  until,
  type SidecarProcess,
} from '../helpers/sidecar.js';
import { externalAuthTarget, externalTarget, uniqueTopic, useAuthTarget } from '../helpers/target.js';
import {
  expiredToken,
  handshakeLog,
  publishAsAdmin,
  rotateTokenFile,
  tokensAB,
  topicPayloadsAsAdmin,
  waitForNoBacklog,
} from '../helpers/token-rotation.js';

const target = useAuthTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').slice(0, -1);
}

/** Log lines of the sidecar (pino JSON) with the given message. */
function logged(sidecar: SidecarProcess, msg: string): Record<string, unknown>[] {
  return sidecar
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === msg);
}

describe.skipIf(externalTarget && !externalAuthTarget)('sidecar token rotation (tokenFile, SIGHUP)', () => {
  it('SIGHUP re-reads the file rotated from A to B without restarts, a cut reconnects with B; an expired token in the file fails and recovers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pws-sidecar-token-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const name = uniqueTopic('sc-rotate');
    const [topic, events] = [`${name}-in`, `${name}-events`];
    const { a, b } = await tokensAB(target);
    const expired = await expiredToken(target);
    const names = { A: a, B: b, expired };
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${a}\n`);
    const output = join(dir, 'out.txt');
    const faults = await startFaultProxy(target.wsUrl);
    cleanups.push(() => faults.close());
    const port = await freePort();
    const config = join(dir, 'sidecar.yaml');
    await writeFile(
      config,
      `connection:
  url: ${faults.url}
  tokenFile: ${tokenFile}
http: { listen: 127.0.0.1:0 }
restart: { initialDelay: 100ms, maxDelay: 500ms }
pipelines:
  archive:
    source: { type: topic, topic: ${topic}, subscription: archive }
    sink: { type: file, path: ${output}, fsyncInterval: 100ms }
  hooks:
    source: { type: webhook, port: ${port}, path: /events }
    sink: { type: topic, topic: ${events} }
`,
    );
    const sidecar = await startSidecar(config, childEnv());
    cleanups.push(() => killSidecar(sidecar));
    await until('/readyz 200', async () => (await readyz(sidecar.url)).status === 200);
    const posted: string[] = [];
    const post = async (count: number, prefix: string): Promise<void> => {
      for (const event of range(count, prefix)) {
        const response = await fetch(`http://127.0.0.1:${port}/events`, { method: 'POST', body: event });
        expect(response.status).toBe(200);
        posted.push(event);
      }
    };
    const written: string[] = [];
    const batch = async (prefix: string): Promise<void> => {
      const payloads = range(100, prefix);
      await publishAsAdmin(target, topic, payloads);
      written.push(...payloads);
      await post(10, `event-${prefix}`);
      await until(`batch ${prefix} written`, async () => (await lines(output)).length === written.length);
    };

    await batch('a');
    expect(handshakeLog(faults.requests, names)).toEqual(['A 101', 'A 101']);

    // SIGHUP with an empty file: refused naming the file, nothing changes.
    await writeFile(tokenFile, '\n');
    sidecar.child.kill('SIGHUP');
    await until('the empty file refused', () =>
      Promise.resolve(sidecar.stderr().includes(`connection.tokenFile: ${tokenFile} is empty`)),
    );
    expect(logged(sidecar, 'reload refused; still running the previous config')).toHaveLength(1);

    // Rotated to B, SIGHUP re-reads it and restarts nothing.
    await rotateTokenFile(tokenFile, b);
    sidecar.child.kill('SIGHUP');
    const reread = 'token file re-read: every session uses it from its next (re)connect on';
    await until('the re-read logged', () => Promise.resolve(logged(sidecar, reread).length === 1));
    expect(logged(sidecar, reread)[0]).toMatchObject({ tokenFile, changed: true });
    expect(logged(sidecar, 'pipeline started')).toHaveLength(2);
    // The open sessions go on with what they connected with.
    await batch('b');
    expect(handshakeLog(faults.requests, names)).toEqual(['A 101', 'A 101']);

    // A forced reconnect at a quiet point: the sessions come back with B, which the server takes (a
    // refusal the server gives while it still holds a cut session, retried, would carry B too).
    await waitForNoBacklog(target, topic, 'archive');
    const connectedBefore = logged(sidecar, 'session connected').length;
    let requestsBefore = faults.requests.length;
    faults.cut();
    await until('every session reconnected', () =>
      Promise.resolve(logged(sidecar, 'session connected').length === connectedBefore + 2),
    );
    const reconnects = handshakeLog(faults.requests.slice(requestsBefore), names);
    expect(reconnects.filter((handshake) => !handshake.startsWith('B '))).toEqual([]);
    expect(reconnects.filter((handshake) => handshake === 'B 101')).toHaveLength(2);
    await batch('c');
    expect(logged(sidecar, 'pipeline started')).toHaveLength(2);

    // The file holds an expired token at a reconnect: 401, the pipelines fail and restart after
    // their backoff, and recover once the file is valid again.
    await waitForNoBacklog(target, topic, 'archive');
    await rotateTokenFile(tokenFile, expired);
    requestsBefore = faults.requests.length;
    faults.cut();
    await until('the pipelines failed', async () => {
      const { status, body } = await readyz(sidecar.url);
      return (
        status === 503 &&
        /archive.*authentication failed.*hooks.*authentication failed/.test(JSON.stringify(body))
      );
    });
    const refused = handshakeLog(faults.requests.slice(requestsBefore), names);
    expect(refused.filter((handshake) => handshake !== 'expired 401')).toEqual([]);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    requestsBefore = faults.requests.length;
    await rotateTokenFile(tokenFile, b);
    await until('/readyz 200 again', async () => (await readyz(sidecar.url)).status === 200);
    await batch('d');
    // Handshakes sent before the restarted pipelines read the file again may still carry the
    // expired token; the ones that connected carried B.
    const recovered = handshakeLog(faults.requests.slice(requestsBefore), names);
    expect(
      recovered.filter((handshake) => handshake !== 'expired 401' && !handshake.startsWith('B ')),
    ).toEqual([]);
    expect(recovered.filter((handshake) => handshake === 'B 101')).toHaveLength(2);

    expect(await lines(output)).toEqual(written);
    expect(await topicPayloadsAsAdmin(target, events)).toEqual(posted);
    expect(sidecar.stderr()).not.toContain(a);
    expect(sidecar.stderr()).not.toContain(b);
    expect(sidecar.stderr()).not.toContain(expired);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  }, 120_000);
});

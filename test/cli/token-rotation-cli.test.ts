/**
 * `--token-file` is read again at every (re)connect (docs/cli.md): `topic-to-file` runs through a
 * fault proxy with token A; the file is rotated to token B while the command goes on (the open
 * session is not touched); the proxy cuts the connection; the reconnect's handshake, as the proxy saw
 * it, carried B and the server took it; the command ends with every message written once. A missing
 * or empty file is refused at start (exit 2, naming the file). No token expires during the test, so
 * nothing depends on how fast the command starts. Runs against the embedded broker with token auth,
 * or Apache Pulsar with token auth (PULSAR_AUTH_WS_URL, .ci/run).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/broker-process.js';
import { lineCount, startNode, waitFor } from '../helpers/child-process.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { range } from '../helpers/publish.js';
import { childEnv, runCli } from '../helpers/sidecar.js';
import { externalAuthTarget, externalTarget, uniqueTopic, useAuthTarget } from '../helpers/target.js';
import {
  handshakeLog,
  publishAsAdmin,
  rotateTokenFile,
  tokensAB,
  waitForNoBacklog,
} from '../helpers/token-rotation.js';

const target = useAuthTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-cli-token-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('--token-file checked at start', () => {
  it('a missing or empty token file is exit 2 naming the file', async () => {
    const dir = await tempDir();
    const missing = join(dir, 'missing-token');
    const args = ['consume', 't', '--subscription', 's', '--url', 'ws://127.0.0.1:9'];
    const absent = await runCli([...args, '--token-file', missing], childEnv());
    expect(absent.code).toBe(2);
    expect(absent.stderr).toContain(`cannot read --token-file ${missing}`);
    const empty = join(dir, 'empty-token');
    await writeFile(empty, '\n');
    const blank = await runCli([...args, '--token-file', empty], childEnv());
    expect(blank.code).toBe(2);
    expect(blank.stderr).toContain(`--token-file ${empty} is empty`);
  });
});

describe.skipIf(externalTarget && !externalAuthTarget)('topic-to-file --token-file under rotation', () => {
  it('the file is rotated from A to B, a cut connection reconnects with B and the server takes it; every line once, exit 0', async () => {
    const dir = await tempDir();
    const topic = uniqueTopic('cli-rotate');
    const { a, b } = await tokensAB(target);
    const names = { A: a, B: b };
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${a}\n`);
    const output = join(dir, 'out.txt');
    const faults = await startFaultProxy(target.wsUrl);
    cleanups.push(() => faults.close());
    const [first, second, third] = [range(200, 'a'), range(200, 'b'), range(200, 'c')];
    await publishAsAdmin(target, topic, first);

    const run = startNode(
      [
        CLI_PATH,
        'topic-to-file',
        '--url',
        faults.url,
        '--token-file',
        tokenFile,
        '--topic',
        topic,
        '--subscription',
        'archiver',
        '--file',
        output,
        '--count',
        '600',
        '--log-level',
        'info',
      ],
      childEnv(),
    );
    cleanups.push(async () => {
      run.kill('SIGKILL');
      await run.exited;
    });
    await waitFor('the first batch written', async () => (await lineCount(output)) === 200, run);
    expect(handshakeLog(faults.requests, names)).toEqual(['A 101']);

    // The file is rotated; the open session goes on with what it connected with.
    await rotateTokenFile(tokenFile, b);
    await publishAsAdmin(target, topic, second);
    await waitFor(
      'the second batch written after the rotation',
      async () => (await lineCount(output)) === 400,
      run,
    );

    // Cut at a quiet point (every line fsynced and acknowledged): `--count` counts deliveries, and a
    // redelivery after the cut, which exactly-once skips, would end the run early.
    await waitForNoBacklog(target, topic, 'archiver');
    faults.cut();
    await publishAsAdmin(target, topic, third);
    const ended = await run.exited;
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).toContain('session reconnecting');
    // The reconnect read the file again: it sent B, and the server took it (a refusal the server
    // gives while it still holds the cut session, retried, would carry B too).
    const [firstHandshake, ...reconnects] = handshakeLog(faults.requests, names);
    expect(firstHandshake).toBe('A 101');
    expect(reconnects.filter((handshake) => !handshake.startsWith('B '))).toEqual([]);
    expect(reconnects.filter((handshake) => handshake === 'B 101')).toHaveLength(1);
    expect((await readFile(output, 'utf8')).split('\n').slice(0, -1)).toEqual([
      ...first,
      ...second,
      ...third,
    ]);
  }, 90_000);
});

/**
 * `--token-file` is read again at every (re)connect (docs/cli.md): `topic-to-file` runs through a
 * fault proxy with token A, which expires while the command goes on (the server checks a token only
 * at the handshake); the file is rotated to token B and the proxy cuts the connection; the command
 * reconnects with B and ends with every message written once. A missing or empty file is refused at
 * start (exit 2, naming the file). Runs against the embedded broker with token auth, or Apache Pulsar
 * with token auth (PULSAR_AUTH_WS_URL, .ci/run).
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
  publishAsAdmin,
  rotateTokenFile,
  tokensAB,
  waitForNoBacklog,
  waitUntilRefused,
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
  it('token A expires, the file is rotated to B, a cut connection reconnects with B; every line once, exit 0', async () => {
    const dir = await tempDir();
    const topic = uniqueTopic('cli-rotate');
    // A outlives the command's start (a child process) by a wide margin.
    const { a, b } = await tokensAB(target, 10);
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

    // Token A expires; the open session goes on.
    await waitUntilRefused(target, `${topic}-probe`, a);
    await publishAsAdmin(target, topic, second);
    await waitFor(
      'the second batch written on the expired token',
      async () => (await lineCount(output)) === 400,
      run,
    );

    await rotateTokenFile(tokenFile, b);
    // Cut at a quiet point (every line fsynced and acknowledged): `--count` counts deliveries, and a
    // redelivery after the cut, which exactly-once skips, would end the run early.
    await waitForNoBacklog(target, topic, 'archiver');
    faults.cut();
    await publishAsAdmin(target, topic, third);
    const ended = await run.exited;
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).toContain('session reconnecting');
    expect(faults.connections).toBeGreaterThanOrEqual(2);
    expect((await readFile(output, 'utf8')).split('\n').slice(0, -1)).toEqual([
      ...first,
      ...second,
      ...third,
    ]);
  }, 90_000);
});

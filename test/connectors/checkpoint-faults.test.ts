/**
 * A checkpoint directory that turns read-only mid-run (a real read-only remount of a small tmpfs:
 * tests run as root, where chmod does not stop writes): `file-to-topic --checkpoint --follow` logs
 * the failed saves, retries them with backoff and carries on once the directory is writable again;
 * when it stays read-only, the command gives up after a bounded number of attempts and exits 1
 * naming the checkpoint, never with an unhandled rejection.
 */
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/broker-process.js';
import { startNode, waitFor, type RunningNode } from '../helpers/child-process.js';
import { mountTmpfs, tmpfsUnavailable, type Tmpfs } from '../helpers/mounts.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { topicPayloads } from '../helpers/topics.js';

const target = useTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(): Promise<{ mount: Tmpfs; input: string; checkpoint: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-checkpoint-faults-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const mount = await mountTmpfs(1024 * 1024);
  cleanups.push(() => mount.remove());
  const input = join(dir, 'in.txt');
  await writeFile(input, lines(0, 100));
  return { mount, input, checkpoint: join(mount.dir, 'checkpoint.json') };
}

/** Starts the CLI; killed after the test if it is still running (a failed assertion). */
function start(args: string[]): RunningNode {
  const running = startNode([CLI_PATH, ...args]);
  cleanups.push(async () => {
    running.kill('SIGKILL');
    await running.exited;
  });
  return running;
}

function lines(from: number, to: number): string {
  return Array.from({ length: to - from }, (_, i) => `row-${from + i}\n`).join('');
}

async function savedMessages(checkpoint: string): Promise<number> {
  const match = /"messages": (\d+)/.exec(await readFile(checkpoint, 'utf8').catch(() => ''));
  return match === null ? 0 : Number(match[1]);
}

const skipReason = tmpfsUnavailable === undefined ? '' : ` (skipped: ${tmpfsUnavailable})`;

describe.skipIf(tmpfsUnavailable !== undefined)('checkpoint directory turning read-only mid-run', () => {
  it(`saves retried with backoff and logged; once writable again the run goes on and exits 0${skipReason}`, async () => {
    const { mount, input, checkpoint } = await setUp();
    const topic = uniqueTopic('checkpoint-ro');
    const running = start([
      ...['file-to-topic', '--url', target.wsUrl, '--topic', topic, '--file', input],
      ...['--checkpoint', checkpoint, '--follow', '--quiet', '--log-level', 'warn'],
    ]);
    await waitFor('the first checkpoint', async () => (await savedMessages(checkpoint)) >= 100, running);
    await mount.readOnly();
    await appendFile(input, lines(100, 200));
    const retries = () => running.output().stderr.split('checkpoint save failed; retrying').length - 1;
    await waitFor('two failed saves', () => retries() >= 2, running);
    await mount.writable();
    await appendFile(input, lines(200, 300));
    await waitFor(
      'the checkpoint to catch up',
      async () => (await savedMessages(checkpoint)) >= 300,
      running,
    );
    running.kill('SIGTERM');
    const run = await running.exited;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('EROFS');
    expect(run.stderr).not.toMatch(/unhandled/i);
    expect(await topicPayloads(target, topic)).toEqual(lines(0, 300).trim().split('\n'));
  }, 60_000);

  it(`stays read-only: gives up after a bounded number of attempts, exits 1 naming the checkpoint${skipReason}`, async () => {
    const { mount, input, checkpoint } = await setUp();
    const running = start([
      ...['file-to-topic', '--url', target.wsUrl, '--topic', uniqueTopic('checkpoint-ro-stays')],
      ...['--file', input, '--checkpoint', checkpoint, '--follow', '--quiet'],
      ...['--log-level', 'warn'],
    ]);
    await waitFor('the first checkpoint', async () => (await savedMessages(checkpoint)) >= 100, running);
    await mount.readOnly();
    await appendFile(input, lines(100, 200));
    const run = await running.exited;
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `cannot save checkpoint ${checkpoint} \\(8 attempts failed\\): EROFS.*\\(PWS_ERR_CONNECTOR\\)`,
      ),
    );
    expect(run.stderr).not.toMatch(/unhandled/i);
    // What was saved before is intact: a restart resumes from it.
    expect(await savedMessages(checkpoint)).toBe(100);
  }, 60_000);
});

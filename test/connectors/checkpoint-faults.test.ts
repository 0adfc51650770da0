/**
 * A checkpoint directory that turns read-only mid-run (a real read-only remount of a small tmpfs:
 * tests run as root, where chmod does not stop writes), or fills up (ENOSPC): `file-to-topic
 * --checkpoint --follow` logs the failed saves, retries them with backoff and carries on once the
 * directory is writable (or has room) again; when it stays so, the command gives up after a bounded
 * number of attempts and exits 1 naming the checkpoint, never with an unhandled rejection, and the
 * checkpoint saved before is intact: a restart resumes from it and, with --dedup, every line is on
 * the topic once.
 */
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/broker-process.js';
import { startNode, waitFor, type RunningNode } from '../helpers/child-process.js';
import { fillDisk, mountTmpfs, type Tmpfs, tmpfsUnavailable } from '../helpers/mounts.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { createDedupNamespace, topicPayloads } from '../helpers/topics.js';

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

describe.skipIf(tmpfsUnavailable !== undefined)(
  'checkpoint directory turning read-only or full mid-run',
  () => {
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

    it(`disk full: saves retried and logged; once space is freed the run goes on and exits 0${skipReason}`, async () => {
      const { mount, input, checkpoint } = await setUp();
      const topic = uniqueTopic('checkpoint-full');
      const running = start([
        ...['file-to-topic', '--url', target.wsUrl, '--topic', topic, '--file', input],
        ...['--checkpoint', checkpoint, '--follow', '--quiet', '--log-level', 'warn'],
      ]);
      await waitFor('the first checkpoint', async () => (await savedMessages(checkpoint)) >= 100, running);
      const filler = await fillDisk(mount.dir);
      await appendFile(input, lines(100, 200));
      const retries = () => running.output().stderr.split('checkpoint save failed; retrying').length - 1;
      await waitFor('two failed saves', () => retries() >= 2, running);
      expect(await savedMessages(checkpoint)).toBe(100);
      await rm(filler);
      await appendFile(input, lines(200, 300));
      await waitFor(
        'the checkpoint to catch up',
        async () => (await savedMessages(checkpoint)) >= 300,
        running,
      );
      running.kill('SIGTERM');
      const run = await running.exited;
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain('ENOSPC');
      expect(run.stderr).not.toMatch(/unhandled/i);
      expect(await topicPayloads(target, topic)).toEqual(lines(0, 300).trim().split('\n'));
    }, 60_000);

    it(`disk stays full: exits 1 naming the checkpoint and ENOSPC; the saved checkpoint is intact, a rerun with --dedup completes the topic once${skipReason}`, async () => {
      const { mount, input, checkpoint } = await setUp();
      const topic = `persistent://${await createDedupNamespace(target, 'checkpoint-full')}/${uniqueTopic('full')}`;
      const args = [
        ...['file-to-topic', '--url', target.wsUrl, '--topic', topic, '--file', input],
        ...['--checkpoint', checkpoint, '--dedup', '--quiet', '--log-level', 'warn'],
      ];
      const running = start([...args, '--follow']);
      await waitFor('the first checkpoint', async () => (await savedMessages(checkpoint)) >= 100, running);
      const filler = await fillDisk(mount.dir);
      await appendFile(input, lines(100, 200));
      const run = await running.exited;
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        new RegExp(
          `cannot save checkpoint ${checkpoint} \\(8 attempts failed\\): ENOSPC.*\\(PWS_ERR_CONNECTOR\\)`,
        ),
      );
      expect(run.stderr).not.toMatch(/unhandled/i);
      // The checkpoint claims only what was saved before the disk filled.
      expect(await savedMessages(checkpoint)).toBe(100);
      await rm(filler);
      const rerun = start(args);
      const done = await rerun.exited;
      expect(done.code, done.stderr).toBe(0);
      expect(await savedMessages(checkpoint)).toBe(200);
      // Lines 100–199 were published before the failure and again by the rerun (from the checkpoint):
      // deduplication keeps one of each.
      expect(await topicPayloads(target, topic)).toEqual(lines(0, 200).trim().split('\n'));
    }, 60_000);
  },
);

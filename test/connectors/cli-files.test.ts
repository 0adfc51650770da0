/**
 * The file connectors through the CLI, as operators run them: a 200 000-line round trip that must be
 * byte-identical; SIGKILLs at random points of `file-to-topic --checkpoint --dedup`, restarted until
 * done: every line arrives, duplicates are counted (none on a topic with deduplication); SIGKILLs of
 * `topic-to-file` (exactly-once by default on Exclusive): the output is byte-identical, also with
 * rotation. Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/broker-process.js';
import { runNode, type ChildRun } from '../helpers/child-process.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { createDedupNamespace, expectAllDelivered, topicPayloads } from '../helpers/topics.js';

const target = useTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-cli-files-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the CLI against the target; with `killWhen`, SIGKILLs it as soon as the predicate holds. */
function cli(args: string[], killWhen?: () => Promise<boolean>): Promise<ChildRun> {
  return runNode([CLI_PATH, ...args, '--url', target.wsUrl, '--log-level', 'warn'], killWhen);
}

describe('file connectors through the CLI', () => {
  it('round trip: file-to-topic of 200 000 lines, topic-to-file --count 200000: byte-identical', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.txt');
    const output = join(dir, 'out.txt');
    const lines = Array.from({ length: 200_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`);
    await writeFile(input, `${lines.join('\n')}\n`);
    const topic = uniqueTopic('round-trip');
    const published = await cli(['file-to-topic', '--file', input, '--topic', topic]);
    expect(published.code, published.stderr).toBe(0);
    expect(published.stdout).toMatch(/^published 200000 messages, \d+ bytes in [\d.]+ s \(\d+ msg\/s\)\n$/);
    const written = await cli([
      'topic-to-file',
      '--topic',
      topic,
      '--subscription',
      's',
      '--file',
      output,
      '--count',
      '200000',
    ]);
    expect(written.code, written.stderr).toBe(0);
    expect((await readFile(output)).equals(await readFile(input))).toBe(true);
  }, 180_000);

  for (const dedup of [true, false]) {
    const label = dedup ? '--checkpoint --dedup on a topic with deduplication' : '--checkpoint (no dedup)';
    it(`SIGKILL file-to-topic ${label} at random points: every line arrives${dedup ? ', exactly once' : '; duplicates counted'}`, async () => {
      const dir = await tempDir();
      const input = join(dir, 'in.txt');
      const checkpoint = join(dir, 'checkpoint.json');
      const lines = Array.from({ length: 30_000 }, (_, i) => `row-${i}`);
      await writeFile(input, `${lines.join('\n')}\n`);
      const topic = dedup
        ? `persistent://${await createDedupNamespace(target, 'cli-dedup')}/${uniqueTopic('kill-produce')}`
        : uniqueTopic('kill-produce');
      const args = [
        'file-to-topic',
        '--file',
        input,
        '--topic',
        topic,
        '--checkpoint',
        checkpoint,
        '--quiet',
        ...(dedup ? ['--dedup'] : []),
      ];
      let kills = 0;
      for (let round = 0; round < 4; round++) {
        // Kill once the checkpoint moved past a random point.
        const point = Math.floor(Math.random() * 30_000);
        const run = await cli(args, async () => {
          const saved = await readFile(checkpoint, 'utf8').catch(() => '');
          const match = /"messages": (\d+)/.exec(saved);
          return match !== null && Number(match[1]) >= point;
        });
        if (run.code === 'SIGKILL') kills += 1;
        else expect(run.code, run.stderr).toBe(0);
      }
      const final = await cli(args);
      expect(final.code, final.stderr).toBe(0);
      const stored = await topicPayloads(target, topic);
      console.log(`file-to-topic ${label}: ${kills} SIGKILLs`);
      const duplicates = expectAllDelivered(`file-to-topic ${label} after SIGKILLs`, stored, lines);
      if (dedup) {
        expect(duplicates).toBe(0);
        expect(stored).toEqual(lines);
      }
    }, 180_000);
  }

  it('SIGKILL topic-to-file (Exclusive, exactly-once by default) at three points of a 200 000-line topic, restarted each time: output byte-identical', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.txt');
    const output = join(dir, 'out.txt');
    const lines = Array.from({ length: 200_000 }, (_, i) => `rec-${i} ${'y'.repeat(i % 40)}`);
    await writeFile(input, `${lines.join('\n')}\n`);
    const topic = uniqueTopic('kill-consume');
    expect((await cli(['file-to-topic', '--file', input, '--topic', topic, '--quiet'])).code).toBe(0);
    const args = [
      ...['topic-to-file', '--topic', topic, '--subscription', 's', '--file', output],
      ...['--quiet', '--fsync-interval', '0.05', '--idle-exit', '3'],
    ];
    let kills = 0;
    const size = (await stat(input)).size;
    // Killed once the output passed 20 %, 50 %, 80 % of the input (by size: cheap to poll).
    for (const share of [0.2, 0.5, 0.8]) {
      const run = await cli(
        args,
        async () => (await stat(output).catch(() => ({ size: 0 }))).size >= share * size,
      );
      if (run.code === 'SIGKILL') kills += 1;
      else expect(run.code, run.stderr).toBe(0);
    }
    const final = await cli(args);
    expect(final.code, final.stderr).toBe(0);
    console.log(`topic-to-file exactly-once: ${kills} SIGKILLs, output ${(await stat(output)).size} bytes`);
    expect(kills).toBe(3);
    expect((await readFile(output)).equals(await readFile(input))).toBe(true);
  }, 300_000);

  it('SIGKILL topic-to-file with --rotate-size three times: the rotated files and the current one, in order, are byte-identical to the input', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.txt');
    const output = join(dir, 'out.txt');
    const lines = Array.from({ length: 30_000 }, (_, i) => `rot-${i}`);
    await writeFile(input, `${lines.join('\n')}\n`);
    const topic = uniqueTopic('kill-rotate');
    expect((await cli(['file-to-topic', '--file', input, '--topic', topic, '--quiet'])).code).toBe(0);
    const args = [
      ...[
        'topic-to-file',
        '--topic',
        topic,
        '--subscription',
        's',
        '--file',
        output,
        '--rotate-size',
        '20000',
      ],
      ...['--quiet', '--fsync-interval', '0.05', '--idle-exit', '3'],
    ];
    /** Rotated files (`out.txt.<UTC stamp>-<n>`) in the order they were made, then the current one. */
    const outputs = async (): Promise<string[]> => {
      const rotated = (await readdir(dir))
        .map((name) => /^out\.txt\.(\d{8}T\d{6}Z)-(\d+)$/.exec(name))
        .filter((match) => match !== null)
        .sort((a, b) =>
          (a[1] ?? '') === (b[1] ?? '') ? Number(a[2]) - Number(b[2]) : (a[1] ?? '') < (b[1] ?? '') ? -1 : 1,
        )
        .map((match) => join(dir, match[0]));
      return [...rotated, output];
    };
    const written = async (): Promise<Buffer> =>
      Buffer.concat(
        await Promise.all((await outputs()).map((file) => readFile(file).catch(() => Buffer.alloc(0)))),
      );
    for (const point of [5_000, 12_000, 21_000]) {
      const run = await cli(args, async () => (await written()).toString().split('\n').length - 1 >= point);
      if (run.code !== 'SIGKILL') expect(run.code, run.stderr).toBe(0);
    }
    const final = await cli(args);
    expect(final.code, final.stderr).toBe(0);
    expect((await outputs()).length).toBeGreaterThan(5);
    expect((await written()).equals(await readFile(input))).toBe(true);
  }, 300_000);

  it('Shared subscription: no state file, at-least-once', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.txt');
    const input = join(dir, 'in.txt');
    await writeFile(input, 'a\nb\n');
    const topic = uniqueTopic('shared-file');
    expect((await cli(['file-to-topic', '--file', input, '--topic', topic, '--quiet'])).code).toBe(0);
    const run = await cli([
      ...['topic-to-file', '--topic', topic, '--subscription', 's', '--subscription-type', 'Shared'],
      ...['--file', output, '--quiet', '--count', '2'],
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect((await readFile(output, 'utf8')).split('\n').sort()).toEqual(['', 'a', 'b']);
    expect(await readdir(dir)).not.toContain('out.txt.state.json');
  });
});

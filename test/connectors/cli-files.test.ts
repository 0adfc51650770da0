/**
 * The file connectors through the CLI, as operators run them: a 200 000-line round trip that must be
 * byte-identical, and SIGKILLs at random points of `file-to-topic --checkpoint --dedup` and of
 * `topic-to-file`, restarted until done: every line arrives, duplicates are counted (none for
 * file-to-topic on a topic with deduplication). Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/broker-process.js';
import { lineCount, runNode, type ChildRun } from '../helpers/child-process.js';
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

  it('SIGKILL topic-to-file at random points: the output holds every line; duplicates counted', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.txt');
    const output = join(dir, 'out.txt');
    const lines = Array.from({ length: 20_000 }, (_, i) => `rec-${i}`);
    await writeFile(input, `${lines.join('\n')}\n`);
    const topic = uniqueTopic('kill-consume');
    expect((await cli(['file-to-topic', '--file', input, '--topic', topic, '--quiet'])).code).toBe(0);
    const args = [
      'topic-to-file',
      '--topic',
      topic,
      '--subscription',
      's',
      '--file',
      output,
      '--quiet',
      '--fsync-interval',
      '0.05',
    ];
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      const point = Math.floor(Math.random() * 20_000);
      const run = await cli([...args, '--idle-exit', '2'], async () => (await lineCount(output)) >= point);
      if (run.code === 'SIGKILL') kills += 1;
      else expect(run.code, run.stderr).toBe(0);
    }
    const final = await cli([...args, '--idle-exit', '2']);
    expect(final.code, final.stderr).toBe(0);
    const written = (await readFile(output, 'utf8')).split('\n').filter(Boolean);
    console.log(`topic-to-file: ${kills} SIGKILLs, output ${(await stat(output)).size} bytes`);
    expectAllDelivered('topic-to-file after SIGKILLs', written, lines);
  }, 180_000);
});

/**
 * Crash safety of ack-after-write: a consuming pipeline (consumer → acking file sink) in a child
 * process is SIGKILLed at random points and restarted; every message must end up in the file at
 * least once. Duplicates (written, killed before the ack reached the broker) are counted and shown.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { lineCount, runNode } from '../helpers/child-process.js';
import { publishAll } from '../helpers/publish.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const CHILD = fileURLToPath(new URL('../fixtures/consume-to-file.mjs', import.meta.url));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs the child; SIGKILLs it once the file holds `killAtLines` lines (if given). */
async function runChild(args: string[], outFile: string, killAtLines?: number): Promise<number | string> {
  const killWhen =
    killAtLines === undefined ? undefined : async () => (await lineCount(outFile)) >= killAtLines;
  const { code, stderr } = await runNode([CHILD, ...args], killWhen, 5);
  if (code !== 0 && code !== 'SIGKILL') throw new Error(`child failed (${code}):\n${stderr}`);
  return code;
}

describe('crash safety', () => {
  it('SIGKILL the consuming pipeline at random points, restart: every message written at least once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pws-crash-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const outFile = join(dir, 'out.txt');
    const topic = uniqueTopic('crash');
    const total = 5000;
    const payloads = Array.from({ length: total }, (_, i) => `msg-${String(i).padStart(5, '0')}`);
    await publishAll(target, topic, payloads);
    const killPoints = Array.from({ length: 4 }, () => 500 + Math.floor(Math.random() * 4000)).sort(
      (a, b) => a - b,
    );
    const args = [target.wsUrl, topic, 'sub', outFile];
    const kills: number[] = [];
    for (const point of killPoints) {
      if ((await runChild(args, outFile, point)) === 'SIGKILL') kills.push(await lineCount(outFile));
    }
    expect(await runChild(args, outFile)).toBe(0);
    const lines = (await readFile(outFile, 'utf8')).split('\n').filter((line) => line !== '');
    const counts = new Map<string, number>();
    for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
    const missing = payloads.filter((payload) => !counts.has(payload));
    const torn = lines.filter((line) => !/^msg-\d{5}$/.test(line)).length;
    const duplicates =
      lines.length - torn - [...counts.keys()].filter((line) => /^msg-\d{5}$/.test(line)).length;
    console.log(
      `crash safety: ${kills.length} SIGKILLs (at ${kills.join(', ')} lines), ${total} messages, ` +
        `${missing.length} missing, ${duplicates} duplicates, ${torn} torn lines, file ${(await stat(outFile)).size} bytes`,
    );
    expect(kills.length).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  }, 120_000);
});

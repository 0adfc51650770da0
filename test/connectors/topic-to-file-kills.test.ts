/**
 * Exactly-once from the first byte: `topic-to-file` (Exclusive, exactly-once by default) SIGKILLed at
 * random moments from 0 to 2 s after it starts, over and over (the first time as soon as the output
 * holds a line before any fsync: the hole where no state covered it), then run to the end: the output is
 * byte-identical to the input, also with rotation (the rotated files, then the current one).
 * Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cliOf,
  outputFiles,
  outputSize,
  savedState,
  useTempDirs,
  writtenBytes,
} from '../helpers/file-outputs.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const tempDir = useTempDirs('pws-file-kills-');
const cli = cliOf(target);

/** At least 20 kills per run of a test. */
const KILLS = 24;

for (const rotate of [false, true]) {
  describe(`topic-to-file SIGKILLed at random moments${rotate ? ', with --rotate-size' : ''}`, () => {
    it(`${KILLS} kills from 0 to 2 s after start (before the first fsync too), then run to the end: output byte-identical`, async () => {
      const dir = await tempDir();
      const input = join(dir, 'in.txt');
      const output = join(dir, 'out.txt');
      const lines = Array.from({ length: 300_000 }, (_, i) => `k-${i} ${'z'.repeat(i % 30)}`);
      await writeFile(input, `${lines.join('\n')}\n`);
      const topic = uniqueTopic(rotate ? 'kill-random-rotate' : 'kill-random');
      const published = await cli(['file-to-topic', '--file', input, '--topic', topic, '--quiet']);
      expect(published.code, published.stderr).toBe(0);
      const args = [
        ...['topic-to-file', '--topic', topic, '--subscription', 's', '--file', output, '--quiet'],
        ...(rotate ? ['--rotate-size', '500000'] : []),
      ];
      /** How far each killed run got: nothing written yet, written but nothing fsynced, fsynced. */
      const kills = { beforeWriting: 0, beforeFirstSync: 0, afterSync: 0 };
      for (let round = 0; round < KILLS; round++) {
        const before = { state: await savedState(output), size: await outputSize(output) };
        const started = Date.now();
        // The first run is killed as soon as its output holds a line the state file does not cover
        // (its first write, before its first fsync); the others at a random moment.
        const delayMs = Math.random() * 2000;
        const killWhen =
          round === 0
            ? async () => (await outputSize(output)) > ((await savedState(output))?.offset ?? 0)
            : () => Promise.resolve(Date.now() - started >= delayMs);
        const run = await cli([...args, '--idle-exit', '30'], killWhen);
        expect(run.code, run.stderr).toBe('SIGKILL');
        const after = { state: await savedState(output), size: await outputSize(output) };
        if (after.state?.last !== before.state?.last) kills.afterSync += 1;
        else if (after.size > (after.state?.offset ?? 0) && after.size !== before.size)
          kills.beforeFirstSync += 1;
        else kills.beforeWriting += 1;
      }
      const final = await cli([...args, '--idle-exit', '3']);
      expect(final.code, final.stderr).toBe(0);
      const files = await outputFiles(dir, output);
      console.log(
        `topic-to-file${rotate ? ' --rotate-size' : ''}: ${KILLS} SIGKILLs: ${kills.beforeWriting} before ` +
          `the run wrote, ${kills.beforeFirstSync} after it wrote and before its first fsync, ` +
          `${kills.afterSync} later; ${files.length} output files`,
      );
      expect(kills.beforeFirstSync).toBeGreaterThanOrEqual(1);
      if (rotate) expect(files.length).toBeGreaterThan(3);
      expect((await writtenBytes(dir, output)).equals(await readFile(input))).toBe(true);
    }, 300_000);
  });
}

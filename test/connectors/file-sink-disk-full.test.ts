/**
 * `topic-to-file` into a small tmpfs (4 MiB) that fills up mid-run, in both formats, with and without
 * rotation: the command exits 1 naming ENOSPC and the file; the output holds only complete records,
 * exactly the first N messages (the short write at the edge of the disk is not counted, the partial
 * record is cut); once space is freed (the tmpfs grown), a rerun completes the output, byte-identical
 * to the input. Tests run as root here (mount/umount); elsewhere they are skipped with the reason.
 * Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { NdjsonEnvelope } from '../../src/connectors/sink-format.js';
import { CLI_PATH } from '../helpers/broker-process.js';
import { runNode, type ChildRun } from '../helpers/child-process.js';
import { mountTmpfs, tmpfsUnavailable, type Tmpfs } from '../helpers/mounts.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const run = promisify(execFile);
const target = useTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function cli(args: string[]): Promise<ChildRun> {
  return runNode([CLI_PATH, ...args, '--url', target.wsUrl, '--log-level', 'warn']);
}

async function tmpfs(bytes: number): Promise<Tmpfs> {
  const mount = await mountTmpfs(bytes);
  cleanups.push(() => mount.remove());
  return mount;
}

/** Rotated files (`out.<UTC stamp>-<n>`) in the order they were made, then the current one. */
async function outputs(dir: string, output: string): Promise<string[]> {
  const base = output.slice(dir.length + 1).replace('.', '\\.');
  const rotated = (await readdir(dir))
    .map((name) => new RegExp(`^${base}\\.(\\d{8}T\\d{6}Z)-(\\d+)$`).exec(name))
    .filter((match) => match !== null)
    .sort((a, b) =>
      (a[1] ?? '') === (b[1] ?? '') ? Number(a[2]) - Number(b[2]) : (a[1] ?? '') < (b[1] ?? '') ? -1 : 1,
    )
    .map((match) => join(dir, match[0]));
  return [...rotated, output];
}

async function written(dir: string, output: string): Promise<Buffer> {
  const files = await outputs(dir, output);
  return Buffer.concat(await Promise.all(files.map((file) => readFile(file).catch(() => Buffer.alloc(0)))));
}

/** The payloads of an ndjson output, checking every line is a whole envelope. */
function ndjsonPayloads(text: string): { payloads: string[]; ids: string[] } {
  const envelopes = text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as NdjsonEnvelope);
  return { payloads: envelopes.map((e) => e.payload), ids: envelopes.map((e) => e.messageId) };
}

const skipReason = tmpfsUnavailable === undefined ? '' : ` (skipped: ${tmpfsUnavailable})`;

describe.skipIf(tmpfsUnavailable !== undefined)(`topic-to-file on a full disk${skipReason}`, () => {
  for (const format of ['lines', 'ndjson'] as const) {
    for (const rotate of [false, true]) {
      it(`--format ${format}${rotate ? ' --rotate-size' : ''}: exits 1 naming ENOSPC and the file, only complete records; a rerun after space is freed completes it${skipReason}`, async () => {
        const inputDir = await mkdtemp(join(tmpdir(), 'pws-disk-full-'));
        cleanups.push(() => rm(inputDir, { recursive: true, force: true }));
        const input = join(inputDir, 'in.txt');
        // 5.4 MB of lines (far more as ndjson): more than the 4 MiB disk holds.
        const lines = Array.from({ length: 60_000 }, (_, i) => `d-${i} ${'w'.repeat(70 + (i % 13))}`);
        await writeFile(input, `${lines.join('\n')}\n`);
        const topic = uniqueTopic(`disk-full-${format}`);
        const published = await cli(['file-to-topic', '--file', input, '--topic', topic, '--quiet']);
        expect(published.code, published.stderr).toBe(0);

        const mount = await tmpfs(4 * 1024 * 1024);
        const output = join(mount.dir, format === 'lines' ? 'out.txt' : 'out.ndjson');
        const args = [
          ...['topic-to-file', '--topic', topic, '--subscription', 's', '--file', output],
          ...['--format', format, '--quiet', '--idle-exit', '3'],
          ...(rotate ? ['--rotate-size', '1000000'] : []),
        ];
        const full = await cli(args);
        expect(full.code, full.stderr).toBe(1);
        expect(full.stderr).toMatch(new RegExp(`${output.replace(/\./g, '\\.')}\\S*: ENOSPC`));
        expect(full.stderr).not.toMatch(/unhandled/i);

        // Only complete records, exactly the first N messages.
        const partial = (await written(mount.dir, output)).toString();
        expect(partial === '' || partial.endsWith('\n')).toBe(true);
        const count = partial.split('\n').length - 1;
        if (format === 'lines') {
          expect(partial).toBe(
            lines
              .slice(0, count)
              .map((line) => `${line}\n`)
              .join(''),
          );
        } else {
          expect(ndjsonPayloads(partial).payloads).toEqual(lines.slice(0, count));
        }
        expect(count).toBeGreaterThan(0);
        expect(count).toBeLessThan(lines.length);
        // The state covers no more than the file (all of it, when the state could still be saved
        // on the full disk after the cut).
        const { offset } = JSON.parse(await readFile(`${output}.state.json`, 'utf8')) as { offset: number };
        const size = (await stat(output)).size;
        expect(offset).toBeLessThanOrEqual(size);
        console.log(
          `topic-to-file --format ${format}${rotate ? ' --rotate-size' : ''} on a full 4 MiB disk: ` +
            `${count} complete records when it stopped, the state covers ${offset} of the file's ${size} bytes; ` +
            `${full.stderr.trim().split('\n').at(-1)}`,
        );

        // Space freed: the rerun goes on from there, each message once, in order.
        await run('mount', ['-o', 'remount,size=64m', mount.dir]);
        const rerun = await cli(args);
        expect(rerun.code, rerun.stderr).toBe(0);
        const complete = await written(mount.dir, output);
        if (format === 'lines') {
          expect(complete.equals(await readFile(input))).toBe(true);
        } else {
          const { payloads, ids } = ndjsonPayloads(complete.toString());
          expect(payloads).toEqual(lines);
          expect(new Set(ids).size).toBe(lines.length);
        }
        if (rotate) expect((await outputs(mount.dir, output)).length).toBeGreaterThan(3);
      }, 120_000);
    }
  }

  it(`--no-exactly-once: exits 1 naming ENOSPC and the file; only complete records, in order${skipReason}`, async () => {
    const inputDir = await mkdtemp(join(tmpdir(), 'pws-disk-full-'));
    cleanups.push(() => rm(inputDir, { recursive: true, force: true }));
    const input = join(inputDir, 'in.txt');
    const lines = Array.from({ length: 40_000 }, (_, i) => `a-${i} ${'v'.repeat(110 + (i % 7))}`);
    await writeFile(input, `${lines.join('\n')}\n`);
    const topic = uniqueTopic('disk-full-at-least-once');
    expect((await cli(['file-to-topic', '--file', input, '--topic', topic, '--quiet'])).code).toBe(0);
    const mount = await tmpfs(4 * 1024 * 1024);
    const output = join(mount.dir, 'out.txt');
    const args = [
      ...['topic-to-file', '--topic', topic, '--subscription', 's', '--file', output],
      ...['--no-exactly-once', '--quiet', '--idle-exit', '3'],
    ];
    const full = await cli(args);
    expect(full.code, full.stderr).toBe(1);
    expect(full.stderr).toContain(`cannot write ${output}: ENOSPC`);
    const partial = await readFile(output, 'utf8');
    const count = partial.split('\n').length - 1;
    expect(partial.endsWith('\n')).toBe(true);
    expect(partial).toBe(
      lines
        .slice(0, count)
        .map((line) => `${line}\n`)
        .join(''),
    );
    expect(await readdir(mount.dir)).toEqual(['out.txt']);
    // At-least-once: the rerun brings everything that was not acknowledged (what was fsynced and
    // acknowledged before the disk filled does not come again).
    await run('mount', ['-o', 'remount,size=64m', mount.dir]);
    const rerun = await cli(args);
    expect(rerun.code, rerun.stderr).toBe(0);
    const all = (await readFile(output, 'utf8')).split('\n').slice(0, -1);
    expect(new Set(all)).toEqual(new Set(lines));
  }, 120_000);
});

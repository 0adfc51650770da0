/**
 * For tests that run `topic-to-file` (and kill it): the CLI against the target, temporary folders,
 * the output's files in the order they were made, and what its exactly-once state file says.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach } from 'vitest';
import { CLI_PATH } from './broker-process.js';
import { runNode, type ChildRun } from './child-process.js';
import type { Target } from './target.js';

/** `tempDir()` makes a folder that is removed after the test; call at the top of a test file. */
export function useTempDirs(prefix: string): () => Promise<string> {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** Runs the built CLI against `target` (warnings logged), SIGKILLed once `killWhen` says so. */
export function cliOf(
  target: Target,
): (args: string[], killWhen?: () => Promise<boolean>) => Promise<ChildRun> {
  return (args, killWhen) =>
    runNode([CLI_PATH, ...args, '--url', target.wsUrl, '--log-level', 'warn'], killWhen, 5);
}

/** The output's rotated files (`<name>.<UTC stamp>-<n>`) in the order they were made, then the current one. */
export async function outputFiles(dir: string, output: string): Promise<string[]> {
  const prefix = `${basename(output)}.`;
  const rotated = (await readdir(dir))
    .filter((name) => name.startsWith(prefix))
    .map((name) => ({ name, match: /^(\d{8}T\d{6}Z)-(\d+)$/.exec(name.slice(prefix.length)) }))
    .filter((entry) => entry.match !== null)
    .sort((a, b) => {
      const [stampA = '', countA = ''] = a.match?.slice(1) ?? [];
      const [stampB = '', countB = ''] = b.match?.slice(1) ?? [];
      return stampA === stampB ? Number(countA) - Number(countB) : stampA < stampB ? -1 : 1;
    })
    .map((entry) => join(dir, entry.name));
  return [...rotated, output];
}

/** Everything the output holds: its rotated files, then the current one. */
export async function writtenBytes(dir: string, output: string): Promise<Buffer> {
  const files = await outputFiles(dir, output);
  return Buffer.concat(await Promise.all(files.map((file) => readFile(file).catch(() => Buffer.alloc(0)))));
}

export async function outputSize(output: string): Promise<number> {
  return (await stat(output).catch(() => ({ size: 0 }))).size;
}

/**
 * The state file's offset and positions (undefined when there is none): `last` is the positions as
 * text (a version 1 state's last message id, or version 2's map of topic-partitions), absent before
 * a first message was recorded.
 */
export async function savedState(output: string): Promise<{ offset: number; last?: string } | undefined> {
  const text = await readFile(`${output}.state.json`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const state = JSON.parse(text) as {
    offset: number;
    lastMessageId?: string;
    positions?: Record<string, string>;
  };
  const last =
    state.positions === undefined
      ? state.lastMessageId
      : Object.keys(state.positions).length === 0
        ? undefined
        : JSON.stringify(state.positions);
  return { offset: state.offset, ...(last === undefined ? {} : { last }) };
}

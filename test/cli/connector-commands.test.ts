/** The connector commands' usage errors and failures: exit code 2 for bad usage, 1 for runtime failures, each naming what is at fault. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/broker-process.js';
import { useTarget } from '../helpers/target.js';

const target = useTarget();
let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-cli-errors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [CLI_PATH, ...args, '--log-level', 'error'],
      { timeout: 20_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe('connector commands: exit codes and messages', () => {
  it('2 for bad usage, naming the flag and value', async () => {
    const badFormat = await cli(['file-to-topic', '--file', 'x', '--topic', 't', '--format', 'csv']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toMatch(/format.*csv/s);
    const badCount = await cli([
      'topic-to-file',
      '--topic',
      't',
      '--subscription',
      's',
      '--file',
      join(dir, 'o'),
      '--count',
      '-1',
      '--url',
      target.wsUrl,
    ]);
    expect(badCount.code).toBe(2);
    expect(badCount.stderr).toMatch(/--count must be an integer >= 0, got -1/);
    const badProperty = await cli([
      'produce',
      't',
      '-m',
      'x',
      '--property',
      'novalue',
      '--url',
      target.wsUrl,
    ]);
    expect(badProperty.code).toBe(2);
    expect(badProperty.stderr).toMatch(/--property expects key=value, got "novalue"/);
    const badUrl = await cli(['produce', 't', '-m', 'x', '--url', 'http://nope']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/--url: expected `url` to be a ws:\/\/ or wss:\/\/ URL/);
    const noMatch = await cli([
      'file-to-topic',
      '--file',
      join(dir, '*.none'),
      '--topic',
      't',
      '--url',
      target.wsUrl,
    ]);
    expect(noMatch.code).toBe(2);
    expect(noMatch.stderr).toMatch(/matches no file/);
  });

  it('1 for runtime failures, naming the file and line or the server', async () => {
    const missing = await cli([
      'file-to-topic',
      '--file',
      join(dir, 'absent.txt'),
      '--topic',
      't',
      '--url',
      target.wsUrl,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot open .*absent\.txt/);
    const input = join(dir, 'bad.ndjson');
    await writeFile(input, '{"ok":1}\n{not json\n');
    const badLine = await cli([
      'file-to-topic',
      '--file',
      input,
      '--topic',
      'cli-bad-ndjson',
      '--format',
      'ndjson',
      '--url',
      target.wsUrl,
    ]);
    expect(badLine.code).toBe(1);
    expect(badLine.stderr).toMatch(/bad\.ndjson:2: not a JSON value/);
    const unreachable = await cli([
      'consume',
      't',
      '--subscription',
      's',
      '--idle-exit',
      '1',
      '--url',
      'ws://127.0.0.1:1',
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/never connected to ws:\/\/127\.0\.0\.1:1/);
    const refused = await cli(['read', 'a/b/c/d/e', '--url', target.wsUrl]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/invalid topic/);
  });
});

/**
 * What each entry point costs: importing `pulsar-ws-streams` (the built dist/, through the package's
 * own exports, in a fresh Node process) loads the client and nothing heavy: neither the embedded
 * broker, jose, the AWS SDK, yargs nor cli-progress. README.md's table of entry points says the same.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROBE = fileURLToPath(new URL('../fixtures/loaded-modules.mjs', import.meta.url));
const RECORDER = fileURLToPath(new URL('../fixtures/record-modules.mjs', import.meta.url));
const PROGRAM = fileURLToPath(new URL('../../dist/cli/program.js', import.meta.url));
const DEPENDENCIES = Object.keys(
  (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { dependencies: Record<string, string> })
    .dependencies,
);

interface Loaded {
  /** The package.json dependencies the import loaded (their own dependencies left out). */
  dependencies: string[];
  /** The top-level folders of dist/ it loaded from (`index.js` counts as `index.js`). */
  distFolders: string[];
  urls: string[];
}

async function loadedBy(entry: string): Promise<Loaded> {
  const { stdout } = await run(process.execPath, [PROBE, entry], { cwd: ROOT });
  const urls = JSON.parse(stdout) as string[];
  const packageOf = (url: string): string | undefined =>
    /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  const dependencies = new Set(
    urls.map(packageOf).filter((name) => name !== undefined && DEPENDENCIES.includes(name)),
  );
  const distFolders = new Set(
    urls.filter((url) => url.includes('/dist/')).map((url) => url.replace(/.*\/dist\//, '').split('/')[0]),
  );
  return {
    dependencies: [...dependencies].sort() as string[],
    distFolders: [...distFolders].sort() as string[],
    urls,
  };
}

/** The modules `pulsar-ws <args>` resolves (the program itself, without the launcher's re-exec). */
async function loadedByCli(args: readonly string[]): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-cli-modules-'));
  const record = join(dir, 'modules.json');
  try {
    await run(process.execPath, ['--import', RECORDER, PROGRAM, ...args], {
      cwd: ROOT,
      env: { ...process.env, RECORD_MODULES_FILE: record },
    });
    return JSON.parse(await readFile(record, 'utf8')) as string[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('lean entry points', () => {
  it("importing 'pulsar-ws-streams' loads the client only: ws, pino, stream-chain", async () => {
    const loaded = await loadedBy('pulsar-ws-streams');
    expect(loaded.dependencies).toEqual(['pino', 'stream-chain', 'ws']);
    // encryption/ is the client's own (producer encryption, decryptMessages) on node:crypto; its native
    // LZ4 and Snappy codecs load only when a message uses them.
    expect(loaded.distFolders).toEqual([
      'client',
      'encryption',
      'errors.js',
      'index.js',
      'net',
      'protocol',
      'streams',
    ]);
    const heavy = loaded.urls.filter((url) =>
      /node_modules\/(jose|@aws-sdk|yargs|cli-progress|lz4-napi|snappy)\//.test(url),
    );
    expect(heavy).toEqual([]);
  });

  it("importing 'pulsar-ws-streams/protocol' loads no package at all", async () => {
    const loaded = await loadedBy('pulsar-ws-streams/protocol');
    expect(loaded.urls.filter((url) => url.includes('/node_modules/'))).toEqual([]);
    // The protocol layer and the error classes it throws, nothing else.
    expect(loaded.distFolders.filter((folder) => folder !== 'protocol' && folder !== 'errors.js')).toEqual(
      [],
    );
  });

  it("the broker stays at 'pulsar-ws-streams/broker', with jose for token auth", async () => {
    const loaded = await loadedBy('pulsar-ws-streams/broker');
    expect(loaded.dependencies).toContain('jose');
    expect(loaded.dependencies).not.toContain('yargs');
    expect(loaded.dependencies).not.toContain('@aws-sdk/client-s3');
  });

  it('a CLI command loads its own module only: a connector loads neither the broker, the sidecar, zod, yaml nor the AWS SDK', async () => {
    for (const command of ['file-to-topic', 'topic-to-file', 'consume']) {
      const urls = await loadedByCli([command, '--help']);
      const heavy = urls.filter((url) =>
        /\/dist\/(broker|sidecar)\/|\/node_modules\/(@aws-sdk|zod|yaml|prom-client)\//.test(url),
      );
      expect(heavy, command).toEqual([]);
      expect(urls.some((url) => url.endsWith(`/dist/cli/commands/${command}.js`))).toBe(true);
    }
    // Help without a command still lists (so loads) every command.
    const all = await loadedByCli(['--help']);
    expect(all.some((url) => url.endsWith('/dist/cli/commands/broker.js'))).toBe(true);
  });
});

/**
 * What each entry point costs: importing `pulsar-ws-streams` (the built dist/, through the package's
 * own exports, in a fresh Node process) loads the client and nothing heavy: neither the embedded
 * broker, jose, the AWS SDK, yargs nor cli-progress. README.md's table of entry points says the same.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROBE = fileURLToPath(new URL('../fixtures/loaded-modules.mjs', import.meta.url));
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
});

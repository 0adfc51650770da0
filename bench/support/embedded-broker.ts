/**
 * The embedded broker as users run it for a benchmark: `pulsar-ws broker` from dist/ in its own
 * process, on a free port and a fresh data directory (removed on stop); `fsync` is its --fsync value. Every bench that measures the
 * broker starts it through here, so they all measure the same thing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface RunningBroker {
  /** e.g. `ws://127.0.0.1:41234` */
  readonly url: string;
  /** SIGTERM, wait for the exit, remove the data directory. */
  stop(): Promise<void>;
}

export async function startEmbeddedBroker(
  options: { fsync?: string; extraArgs?: readonly string[] } = {},
): Promise<RunningBroker> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pws-bench-'));
  const child = spawn(
    process.execPath,
    [
      CLI,
      'broker',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--fsync',
      options.fsync ?? 'never',
      '--log-level',
      'warn',
      ...(options.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /ready at (ws:\/\/\S+)/.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`broker exited ${code} before it was ready:\n${stderr}`)));
  });
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A real S3-compatible server for the S3 sink's tests: VersityGW (posix backend) from .tools/bin
 * (`scripts/s3/install.sh` puts it there; `npm test` runs it when Go is there), started on a free port with a fresh data
 * folder and stopped after the file's tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { VERSITYGW, versitygwMissing } from './prerequisites.js';

export interface S3Server {
  endpoint: string;
  readonly region: 'us-east-1';
  readonly accessKeyId: 'testkey';
  readonly secretAccessKey: 'testsecret';
  /** Stops the server (a fault: requests are refused from now on); its data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data (nothing to do while it runs). */
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function useS3Server(): S3Server {
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  let port = 0;
  const stop = async (): Promise<void> => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill();
      await exited;
    }
  };
  const start = async (): Promise<void> => {
    if (dir === undefined) throw new Error('the S3 server was never set up');
    // Already running: a second one could not bind the port, and the first would be left behind.
    if (child !== undefined && child.exitCode === null && child.signalCode === null) return;
    let output = '';
    child = spawn(
      VERSITYGW,
      [
        '--port',
        `127.0.0.1:${port}`,
        '--region',
        'us-east-1',
        '--health',
        '/health',
        'posix',
        '--sidecar',
        join(dir, 'meta'),
        join(dir, 'data'),
      ],
      {
        env: { ...process.env, ROOT_ACCESS_KEY_ID: 'testkey', ROOT_SECRET_ACCESS_KEY: 'testsecret' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const started = child;
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (let attempt = 0; ; attempt++) {
      const healthy = await fetch(`${server.endpoint}/health`).then(
        (response) => response.ok,
        () => false,
      );
      if (healthy) break;
      if (attempt > 100 || started.exitCode !== null) throw new Error(`versitygw did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const server: S3Server = {
    endpoint: '',
    region: 'us-east-1',
    accessKeyId: 'testkey',
    secretAccessKey: 'testsecret',
    stop,
    start,
  };
  beforeAll(async () => {
    // The suites using it are skipped then (see s3Missing); nothing to start.
    if (versitygwMissing() !== undefined) return;
    dir = await mkdtemp(join(tmpdir(), 'pws-s3-'));
    await mkdir(join(dir, 'data'));
    await mkdir(join(dir, 'meta'));
    port = await freePort();
    server.endpoint = `http://127.0.0.1:${port}`;
    await start();
  });
  afterAll(async () => {
    await stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  return server;
}

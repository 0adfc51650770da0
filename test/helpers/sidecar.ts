/**
 * `pulsar-ws sidecar` as a child process (the built CLI), for the sidecar's acceptance tests: start
 * it on a config, read its endpoint from stderr, scrape /metrics, poll until a condition holds, and
 * stop it with a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { CLI_PATH } from './broker-process.js';

export interface SidecarProcess {
  /** e.g. `http://127.0.0.1:9464` */
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  stderr(): string;
  stdout(): string;
}

/** Environment for the child: no PULSAR_* variables of the test run (they would override the config). */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('PULSAR_')) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs `pulsar-ws <args>` to its end. */
export async function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = childEnv(),
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | string>((resolve) =>
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? signal ?? 'unknown')),
  );
  return { code, stdout, stderr };
}

/** Starts `pulsar-ws sidecar --config <file>` and waits until it serves its endpoint. */
export async function startSidecar(
  configFile: string,
  env: NodeJS.ProcessEnv = childEnv(),
  timeoutMs = 20_000,
): Promise<SidecarProcess> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [CLI_PATH, 'sidecar', '--config', configFile], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`sidecar not serving within ${timeoutMs} ms; stderr:\n${stderr}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /sidecar serving (http:\/\/\S+)/.exec(stderr);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`sidecar exited (${code}) before serving; stderr:\n${stderr}`));
    });
  });
  return { url, child, exited, stderr: () => stderr, stdout: () => stdout };
}

/** Stops the process if it still runs (SIGKILL: for test teardown only). */
export async function killSidecar(sidecar: SidecarProcess | undefined): Promise<void> {
  if (sidecar === undefined || sidecar.child.exitCode !== null || sidecar.child.signalCode !== null) return;
  sidecar.child.kill('SIGKILL');
  await sidecar.exited;
}

/** Every sample of /metrics: `name{labels}` → value. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** One pipeline's sample of a metric (0 when absent). */
export function metric(samples: Map<string, number>, name: string, pipeline: string, extra = ''): number {
  return samples.get(`${name}{pipeline="${pipeline}"${extra}}`) ?? 0;
}

export async function readyz(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Polls `check` until it returns a value other than undefined/false (every 100 ms, up to `timeoutMs`). */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error as Error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${last.message}`}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A TCP port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

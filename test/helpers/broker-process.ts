/**
 * Runs `pulsar-ws broker` from the built CLI as a child process, for tests that kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI_PATH = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface BrokerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
}

export interface BrokerProcessOptions {
  /** Starts the broker through `bash -c 'ulimit -n <n>; exec node ...'`: its open-file limit. */
  readonly ulimitFiles?: number;
}

export async function startBrokerProcess(
  args: readonly string[],
  timeoutMs = 15_000,
  options: BrokerProcessOptions = {},
): Promise<BrokerProcess> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  const nodeArgs = [CLI_PATH, 'broker', '--port', '0', ...args];
  // With `exec`, the child's pid is the broker's, so /proc/<pid> describes the broker itself.
  const child =
    options.ulimitFiles === undefined
      ? spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(
          'bash',
          ['-c', `ulimit -n ${options.ulimitFiles} && exec "$0" "$@"`, process.execPath, ...nodeArgs],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(
      () => reject(new Error(`broker not ready within ${timeoutMs} ms; stderr:\n${stderr}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /ready at (wss?:\/\/\S+)/.exec(stdout);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (${code}) before it was ready; stderr:\n${stderr}`));
    });
  });
  return { url, child, exited, stderr: () => stderr };
}

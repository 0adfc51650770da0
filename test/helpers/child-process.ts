/** Child processes for crash tests: run a Node script, SIGKILL it when a condition holds. */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface ChildRun {
  /** The exit code, or the signal's name (`SIGKILL` when `killWhen` fired). */
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node <args>`; with `killWhen`, SIGKILLs it as soon as the predicate holds (polled every `pollMs`). */
export async function runNode(
  args: string[],
  killWhen?: () => Promise<boolean>,
  pollMs = 10,
): Promise<ChildRun> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  let running = true;
  const watcher = (async () => {
    while (running && killWhen !== undefined) {
      if (await killWhen()) {
        child.kill('SIGKILL');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  })();
  const code = await exited;
  running = false;
  await watcher;
  return { code, stdout, stderr };
}

/** Newline-terminated lines in `file` so far (0 when it does not exist yet). */
export async function lineCount(file: string): Promise<number> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').length - 1;
}

export interface RunningNode {
  /** What it wrote to stdout and stderr so far. */
  readonly output: () => { stdout: string; stderr: string };
  readonly kill: (signal: NodeJS.Signals) => void;
  /** Settles with how it ended. */
  readonly exited: Promise<ChildRun>;
}

/** Starts `node <args>` and hands back its output as it comes, for tests that act on what it logs. */
export function startNode(args: string[], env: NodeJS.ProcessEnv = process.env): RunningNode {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<ChildRun>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code: code ?? signal ?? 'unknown', stdout, stderr })),
  );
  return { output: () => ({ stdout, stderr }), kill: (signal) => void child.kill(signal), exited };
}

/** Polls `condition` every `pollMs` until it holds; fails with `what` when `running` exited first. */
export async function waitFor(
  what: string,
  condition: () => Promise<boolean> | boolean,
  running?: RunningNode,
  pollMs = 20,
): Promise<void> {
  let exited = false;
  void running?.exited.then(() => (exited = true));
  while (!(await condition())) {
    if (exited) throw new Error(`exited before ${what}:\n${running?.output().stderr ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

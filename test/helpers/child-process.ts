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

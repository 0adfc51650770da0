/** Runs a Python peer script (test/peers/*.py, with the `pulsar-client` package) and reads its JSON lines. */
import { spawn } from 'node:child_process';

/** Runs `python3 script ...args`; resolves with its stdout lines that are JSON objects. */
export function runPythonPeer(script: string, args: readonly string[], stdin = ''): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`python peer exited ${code}:\n${stderr}`));
      else
        resolve(
          stdout
            .split('\n')
            // The C++ core logs to stdout too; the peer's own output is the JSON lines.
            .filter((line) => line.startsWith('{'))
            .map((line) => JSON.parse(line) as unknown),
        );
    });
    child.stdin.end(stdin);
  });
}

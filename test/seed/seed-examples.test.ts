/**
 * The seed page's example clients (examples/seed/, copied verbatim from the API page) run against the
 * embedded broker, unchanged but for host and port: Python (websocket-client) and Node (ws).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonModuleMissing, titled } from '../helpers/prerequisites.js';
import { consumerUrl, useTarget } from '../helpers/target.js';
import { TestSocket } from '../helpers/ws-client.js';

const target = useTarget();
const SEED_DIR = fileURLToPath(new URL('../../examples/seed/', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
let workDir = '';

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'pws-seed-'));
});
afterAll(() => rm(workDir, { recursive: true, force: true }));

/** Copies a seed example with `localhost:8080` pointed at the target; Node examples resolve `ws` from the repo. */
async function prepare(file: string, topic: string): Promise<string> {
  const source = await readFile(join(SEED_DIR, file), 'utf8');
  const hostPort = new URL(target.wsUrl).host;
  let text = source.replaceAll('localhost:8080', hostPort).replaceAll('/my-topic', `/${topic}`);
  if (file.endsWith('.cjs')) {
    text = text.replace("require('ws')", `require(${JSON.stringify(join(REPO_ROOT, 'node_modules', 'ws'))})`);
  }
  const path = join(workDir, `${topic}-${file}`);
  await writeFile(path, text);
  return path;
}

interface Running {
  /** Resolves with the output once `pattern` appears in stdout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): void;
  exited: Promise<number | null>;
}

function run(command: string, args: string[]): Running {
  // Python block-buffers stdout into a pipe; the long-running examples are killed, never flushed.
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    exited,
    stop: () => child.kill('SIGKILL'),
    waitFor: (pattern, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(stdout)) {
            clearInterval(timer);
            clearTimeout(deadline);
            resolve(stdout);
          }
        };
        const timer = setInterval(check, 50);
        const deadline = setTimeout(() => {
          clearInterval(timer);
          reject(
            new Error(
              `${command} ${args.join(' ')}: no ${pattern} in output.\nstdout:\n${stdout}\nstderr:\n${stderr}`,
            ),
          );
        }, timeoutMs);
        check();
      }),
  };
}

/** The seed consumer subscribes at Latest; creating `my-sub` first makes the test independent of start-up timing. */
async function createSubscription(topic: string): Promise<void> {
  const socket = await TestSocket.open(consumerUrl(target, topic, 'my-sub'));
  await socket.close();
}

const languages = [
  {
    name: 'Python (websocket-client)',
    missing: pythonModuleMissing('websocket', 'websocket-client'),
    command: 'python3',
    ext: 'py',
    published: /Message published successfully/,
  },
  {
    name: 'Node (ws)',
    missing: undefined,
    command: process.execPath,
    ext: 'cjs',
    published: /received ack: .*"result":"ok"/,
  },
] as const;

for (const language of languages) {
  describe.skipIf(language.missing !== undefined)(
    titled(`seed examples: ${language.name}`, language.missing),
    () => {
      it('the producer publishes and the consumer receives and acks', async () => {
        const topic = `seed-${language.ext}-consume`;
        await createSubscription(topic);
        const consumer = run(language.command, [await prepare(`consumer.${language.ext}`, topic)]);
        try {
          const producer = run(language.command, [await prepare(`producer.${language.ext}`, topic)]);
          await producer.waitFor(language.published);
          producer.stop();
          const output = await consumer.waitFor(/Received: .*Hello World/);
          expect(output).toMatch(/["']key1["']: ?["']value1["']/);
        } finally {
          consumer.stop();
        }
      });

      it('the reader receives what the producer publishes after it connected', async () => {
        const topic = `seed-${language.ext}-read`;
        const reader = run(language.command, [await prepare(`reader.${language.ext}`, topic)]);
        try {
          // The reader starts at `latest` and prints nothing until a message comes, so publish until it
          // has one (bounded): no guess about when it finished connecting.
          const producerPath = await prepare(`producer.${language.ext}`, topic);
          let received = false;
          const readerDone = reader.waitFor(/Received: .*Hello World/, 20_000).then(() => (received = true));
          for (let attempt = 0; attempt < 20 && !received; attempt++) {
            const producer = run(language.command, [producerPath]);
            await producer.waitFor(language.published);
            producer.stop();
            await Promise.race([readerDone, new Promise((resolve) => setTimeout(resolve, 500))]);
          }
          await readerDone;
        } finally {
          reader.stop();
        }
      });
    },
  );
}

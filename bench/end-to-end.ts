/**
 * `npm run bench:e2e`: a file of 1 KB lines moved file → topic → file, two processes at once (a
 * producer reading the file, a consumer writing the copy and acknowledging each line once written, as
 * `file-to-topic` and `topic-to-file` run), three ways in one script:
 *
 *   relay   bare ws clients through a no-storage relay (bench/e2e/relay.ts): what the JSON + base64
 *           protocol itself costs on this machine, the floor
 *   broker  the same bare clients through the embedded broker (`pulsar-ws broker --fsync never`)
 *   cli     `pulsar-ws file-to-topic` and `pulsar-ws topic-to-file` through the embedded broker
 *
 * Ratios: broker / relay (what storage and dispatch cost) and cli / broker (what the CLI costs over
 * bare clients on the same broker). The copy is checked byte for byte.
 *
 * Options (env): BENCH_E2E_MB (default 128), BENCH_ROUNDS (1; alternating, medians reported).
 * BENCH_CHECK=1 exits 1 when cli / broker falls below BENCH_MIN_CLI_RATIO (0.5): the CI guard.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MEGABYTES = Number(process.env.BENCH_E2E_MB ?? 128);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const MIN_CLI_RATIO = Number(process.env.BENCH_MIN_CLI_RATIO ?? 0.5);
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const E2E = fileURLToPath(new URL('./e2e/', import.meta.url));
const LINE_BYTES = 1024;

type Way = 'relay' | 'broker' | 'cli';

/** A run that takes longer than this has hung: it fails instead of holding CI until its limit. */
const RUN_TIMEOUT_MS = Number(process.env.BENCH_RUN_TIMEOUT_MS ?? 600_000);

function run(command: string, args: readonly string[]): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve, reject) =>
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code ?? signal}:\n${stderr}`)),
    ),
  );
  return { child, exited };
}

function tsx(script: string, args: readonly string[]): ReturnType<typeof run> {
  return run(process.execPath, ['--import', 'tsx', join(E2E, script), ...args]);
}

/** Starts a server and answers its URL once it prints its ready line. */
async function startServer(way: Way, dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const server =
    way === 'relay'
      ? tsx('relay.ts', [])
      : run(process.execPath, [
          CLI,
          'broker',
          '--port',
          '0',
          '--data-dir',
          join(dir, 'data'),
          '--fsync',
          'never',
        ]);
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    server.child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /ready at (ws:\/\/\S+)/.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    server.exited.catch(reject);
  });
  return {
    url,
    stop: async () => {
      server.child.kill('SIGTERM');
      await server.exited.catch(() => undefined);
    },
  };
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Moves `input` through a fresh server the given way; answers MB/s. */
async function moveOnce(way: Way, input: string, lines: number, inputHash: string): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), `pws-e2e-${way}-`));
  const server = await startServer(way, dir);
  const output = join(dir, 'copy.txt');
  const topic = `e2e-${way}`;
  try {
    const started = process.hrtime.bigint();
    const [consumer, producer] =
      way === 'cli'
        ? [
            run(process.execPath, [
              CLI,
              'topic-to-file',
              '--url',
              server.url,
              '--topic',
              topic,
              '--subscription',
              'bench',
              '--file',
              output,
              '--count',
              String(lines),
              '--quiet',
              '--log-level',
              'warn',
            ]),
            run(process.execPath, [
              CLI,
              'file-to-topic',
              '--url',
              server.url,
              '--topic',
              topic,
              '--file',
              input,
              '--quiet',
              '--log-level',
              'warn',
            ]),
          ]
        : [
            tsx('bare-consumer.ts', [server.url, topic, output, String(lines)]),
            tsx('bare-producer.ts', [server.url, topic, input]),
          ];
    await Promise.all([consumer.exited, producer.exited]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if ((await sha256(output)) !== inputHash) throw new Error(`${way}: the copy differs from the input`);
    return (await stat(input)).size / 1024 / 1024 / seconds;
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const work = await mkdtemp(join(tmpdir(), 'pws-e2e-input-'));
const input = join(work, 'input.txt');
const lines = Math.round((MEGABYTES * 1024 * 1024) / LINE_BYTES);
const filler = 'x'.repeat(LINE_BYTES - 12);
await writeFile(
  input,
  Array.from({ length: lines }, (_, index) => `${String(index).padStart(10, '0')} ${filler}\n`).join(''),
);
const inputHash = await sha256(input);
console.log(`end to end: ${MEGABYTES} MB of ${LINE_BYTES}-byte lines (${lines} lines), ${ROUNDS} round(s)`);
const rates: Record<Way, number[]> = { relay: [], broker: [], cli: [] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const way of ['relay', 'broker', 'cli'] as const) {
      const rate = await moveOnce(way, input, lines, inputHash);
      console.log(`  round ${round + 1}, ${way}: ${rate.toFixed(1)} MB/s`);
      rates[way].push(rate);
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
const [relay, broker, cli] = [median(rates.relay), median(rates.broker), median(rates.cli)];
const format = (rate: number): string => `${rate.toFixed(1)} MB/s`;
console.log(`relay  (bare clients, no storage):      ${format(relay)}`);
console.log(
  `broker (bare clients, embedded broker): ${format(broker)}  broker/relay ${(broker / relay).toFixed(2)}`,
);
console.log(
  `cli    (pulsar-ws, embedded broker):    ${format(cli)}  cli/broker ${(cli / broker).toFixed(2)}`,
);
if (process.env.BENCH_CHECK === '1' && cli / broker < MIN_CLI_RATIO) {
  console.error(`bench: cli/broker ${(cli / broker).toFixed(2)} is below the floor ${MIN_CLI_RATIO}`);
  process.exitCode = 1;
}

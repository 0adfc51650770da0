/**
 * `npm run bench:memory`: peak RSS of the CLI's file connectors moving a file of 1 KB lines
 * file → topic → file (`file-to-topic`, then `topic-to-file --count`), each in its own process,
 * sampled from /proc/<pid>/status (VmRSS over time, VmHWM for the peak), with MB/s. The output must
 * be byte-identical to the input. Goal: each process under 150 MB peak RSS, whatever the size.
 * Writes the figures into BENCHMARKS.md (between the bench:memory markers) and prints them.
 *
 * The CLI runs as the `pulsar-ws` bin does (dist/cli/main.js executed, so the heap flags on its #!
 * line apply). The broker is the embedded one (fsync=never), in this process (not measured).
 * Options (env): BENCH_MEMORY_MB (256; the goal is stated for 1024), BENCH_SAMPLE_MS (250).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedBroker } from '../src/broker/index.js';

const MEGABYTES = Number(process.env.BENCH_MEMORY_MB ?? 256);
const SAMPLE_MS = Number(process.env.BENCH_SAMPLE_MS ?? 250);
const LINE_BYTES = 1024;
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const BENCHMARKS = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));
const BEGIN = '<!-- bench:memory begin -->';
const END = '<!-- bench:memory end -->';

interface Measured {
  readonly label: string;
  readonly peakMb: number;
  readonly seconds: number;
  /** RSS samples in MB, one per SAMPLE_MS. */
  readonly samples: readonly number[];
}

async function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match === null ? undefined : Number(match[1]) / 1024;
}

/** Runs the CLI, sampling its RSS until it exits; fails on a non-zero exit. */
async function measure(label: string, args: string[]): Promise<Measured> {
  const started = Date.now();
  // The bin itself, as users run it: its #! line carries the heap flags.
  const child = spawn(CLI, [...args, '--quiet', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const samples: number[] = [];
  let peak = 0;
  let running = true;
  void exited.then(() => (running = false));
  while (running) {
    const pid = child.pid ?? 0;
    const [rss, hwm] = await Promise.all([statusField(pid, 'VmRSS'), statusField(pid, 'VmHWM')]);
    if (rss !== undefined) samples.push(Math.round(rss));
    if (hwm !== undefined) peak = Math.max(peak, hwm);
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  }
  const code = await exited;
  if (code !== 0) throw new Error(`${label} exited ${code}:\n${stderr}`);
  return { label, peakMb: Math.round(peak), seconds: (Date.now() - started) / 1000, samples };
}

async function makeInput(path: string, megabytes: number): Promise<void> {
  const line = `${'x'.repeat(LINE_BYTES - 1)}\n`;
  const block = Buffer.from(line.repeat(1024)); // 1 MiB
  const handle = await open(path, 'w');
  try {
    for (let i = 0; i < megabytes; i++) {
      // A distinct first byte per MiB, so that reordering would show in the hash.
      block[0] = 0x41 + (i % 26);
      await handle.write(block);
    }
  } finally {
    await handle.close();
  }
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Min/median/max of the samples, for the over-time column. */
function spread(samples: readonly number[]): string {
  if (samples.length === 0) return 'n/a';
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return `${at(0)} / ${at(0.5)} / ${at(0.9)} / ${sorted.at(-1)}`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-bench-memory-'));
  const broker = await EmbeddedBroker.start({ port: 0, dataDir: join(dir, 'data'), fsync: 'never' });
  try {
    const input = join(dir, 'in.txt');
    const output = join(dir, 'out.txt');
    await makeInput(input, MEGABYTES);
    const lines = MEGABYTES * 1024;
    const topic = `bench-memory-${process.pid}`;
    const common = ['--url', broker.url, '--topic', topic];
    const produced = await measure('file-to-topic', ['file-to-topic', ...common, '--file', input]);
    const consumed = await measure('topic-to-file', [
      ...['topic-to-file', ...common, '--subscription', 'bench', '--file', output, '--count', String(lines)],
    ]);
    const identical = (await sha256(input)) === (await sha256(output));
    const rows = [produced, consumed].map(
      (m) =>
        `| ${m.label.padEnd(13)} | ${String(m.peakMb).padStart(4)} MB | ${spread(m.samples)} | ${(MEGABYTES / m.seconds).toFixed(1)} MB/s |`,
    );
    const section = [
      BEGIN,
      `${new Date().toISOString().slice(0, 10)}, ${MEGABYTES} MiB of 1 KB lines (${lines} messages), Node ${process.version}; output ${identical ? 'byte-identical' : 'DIFFERENT'}; goal: peak under 150 MB:`,
      '',
      '| process       | peak RSS | RSS over time, MB (min / median / p90 / max) | throughput |',
      '| ------------- | -------- | -------------------------------------------- | ---------- |',
      ...rows,
      END,
    ].join('\n');
    console.log(section);
    const current = await readFile(BENCHMARKS, 'utf8');
    const begin = current.indexOf(BEGIN);
    const end = current.indexOf(END);
    const updated =
      begin >= 0 && end > begin
        ? `${current.slice(0, begin)}${section}${current.slice(end + END.length)}`
        : `${current.trimEnd()}\n\n## \`npm run bench:memory\`\n\n${section}\n`;
    await writeFile(BENCHMARKS, updated);
    if (!identical) process.exitCode = 1;
  } finally {
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * `npm run bench:latency`: publish latency (send → ack) at a steady 1 000 msg/s of 100 B messages,
 * the embedded broker with `--fsync always` (each ack waits for its fdatasync) against Apache Pulsar's
 * WebSocket service when PULSAR_WS_URL names one, in alternating runs (embedded, Pulsar, embedded, ...)
 * so a noisy moment of the machine hits both. Prints p50 / p99 / max per run and, per pair, the
 * embedded broker's p99 over Pulsar's.
 *
 * Options (env): BENCH_LATENCY_RUNS (5), BENCH_LATENCY_SECONDS (5 per run, after a 1 s warm-up),
 * BENCH_LATENCY_RATE (1000 msg/s), BENCH_FSYNC (always), PULSAR_WS_URL (no Pulsar runs without it).
 */
import { WebSocket } from 'ws';
import { startEmbeddedBroker } from './support/embedded-broker.js';

const RUNS = Number(process.env.BENCH_LATENCY_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 5);
const RATE = Number(process.env.BENCH_LATENCY_RATE ?? 1000);
const FSYNC = process.env.BENCH_FSYNC ?? 'always';
const PULSAR = process.env.PULSAR_WS_URL?.replace(/\/$/, '');
const WARM_UP_SECONDS = 1;

interface Latencies {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

/**
 * Publishes at RATE msg/s for WARM_UP_SECONDS + SECONDS on a fresh topic and answers the latencies
 * of the messages sent after the warm-up. Sends are paced by the clock (each tick sends what is due),
 * never by acks: a slow ack must not lower the offered load.
 */
async function measure(url: string, run: number): Promise<Latencies> {
  const topic = `latency-${process.pid}-${run}-${Date.now()}`;
  const ws = new WebSocket(`${url}/ws/v2/producer/persistent/public/default/${topic}`, {
    perMessageDeflate: false,
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const payload = Buffer.alloc(100, 'x').toString('base64');
  const total = (WARM_UP_SECONDS + SECONDS) * RATE;
  const warmUp = WARM_UP_SECONDS * RATE;
  const sentAt = new Float64Array(total);
  const latencies: number[] = [];
  let acked = 0;
  const done = new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      const ack = JSON.parse(data.toString('utf8')) as { result: string; context: string };
      if (ack.result !== 'ok') {
        reject(new Error(`publish failed: ${data.toString('utf8')}`));
        return;
      }
      const index = Number(ack.context);
      if (index >= warmUp) latencies.push(performance.now() - (sentAt[index] ?? 0));
      if (++acked === total) resolve();
    });
    ws.once('close', () => acked < total && reject(new Error('the socket closed before every ack')));
  });
  const started = performance.now();
  let sent = 0;
  const ticker = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - started) * RATE) / 1000));
    for (; sent < due; sent++) {
      sentAt[sent] = performance.now();
      ws.send(`{"payload":"${payload}","context":"${sent}"}`);
    }
    if (sent === total) clearInterval(ticker);
  }, 1);
  await done;
  ws.close();
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? 0 };
}

const format = (l: Latencies): string =>
  `p50 ${l.p50.toFixed(2)} ms  p99 ${l.p99.toFixed(2)} ms  max ${l.max.toFixed(1)} ms`;

console.log(
  `publish latency: ${RATE} msg/s of 100 B for ${SECONDS} s per run, ${RUNS} runs, embedded --fsync ${FSYNC}` +
    (PULSAR === undefined ? ' (PULSAR_WS_URL unset: no Pulsar runs)' : ` vs ${PULSAR}`),
);
const broker = await startEmbeddedBroker({ fsync: FSYNC });
let held = 0;
try {
  for (let run = 1; run <= RUNS; run++) {
    const embedded = await measure(broker.url, run);
    console.log(`  run ${run}, embedded: ${format(embedded)}`);
    if (PULSAR === undefined) continue;
    const pulsar = await measure(PULSAR, run);
    const ratio = embedded.p99 / pulsar.p99;
    if (ratio <= 1) held++;
    console.log(`  run ${run}, pulsar:   ${format(pulsar)}  embedded/pulsar p99 ${ratio.toFixed(2)}`);
  }
} finally {
  await broker.stop();
}
if (PULSAR !== undefined) console.log(`embedded p99 at or below Pulsar's in ${held} of ${RUNS} runs`);

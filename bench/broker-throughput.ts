/**
 * `npm run bench:throughput`: produce and consume throughput of the embedded broker, run as users run
 * it (`pulsar-ws broker` from dist/, its own process), driven by a bare `ws` client in this process:
 *
 *   produce  MESSAGES publishes pipelined with IN_FLIGHT unacknowledged
 *   consume  the same messages read back (push mode, receiverQueueSize = IN_FLIGHT), each acknowledged
 *            as it arrives
 *
 * for each subscription type and payload size, each on a topic of its own. The machine is noisy, so
 * what to compare is the ratio consume / produce measured in the same run (and, across versions of the
 * code, each version's ratios), not the msg/s.
 *
 * Options (env): BENCH_MESSAGES (default 100000), BENCH_IN_FLIGHT (1000), BENCH_SIZES (100,1024),
 * BENCH_TYPES (Exclusive,Failover,Shared,Key_Shared), BENCH_FSYNC (never); BENCH_URL measures a
 * server already running there instead (Apache Pulsar's WebSocket service, say). BENCH_CHECK=1 exits 1 when
 * a consume / produce ratio falls below BENCH_MIN_CONSUME_RATIO (0.5): the CI guard (a per-message
 * cost on the consume path, such as the Failover ring once computed per message, shows there).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 1000);
const SIZES = (process.env.BENCH_SIZES ?? '100,1024').split(',').map(Number);
const TYPES = (process.env.BENCH_TYPES ?? 'Exclusive,Failover,Shared,Key_Shared').split(',');
const FSYNC = process.env.BENCH_FSYNC ?? 'never';
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const NAMESPACE = 'persistent/public/default';
const MIN_CONSUME_RATIO = Number(process.env.BENCH_MIN_CONSUME_RATIO ?? 0.5);

function text(data: WebSocket.RawData): string {
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
}

/**
 * Opens a WebSocket. `onMessage` is attached before the connection opens: a server may send frames
 * right behind its answer to the handshake, in the same read, and ws emits them at once, before code
 * awaiting 'open' resumes.
 */
async function open(
  url: string,
  onMessage?: (ws: WebSocket, data: WebSocket.RawData) => void,
): Promise<WebSocket> {
  const ws = new WebSocket(url);
  if (onMessage !== undefined) ws.on('message', (data) => onMessage(ws, data));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return ws;
}

/** Starts `pulsar-ws broker` and answers its URL and a stop function. */
async function startBroker(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pws-bench-'));
  const child = spawn(
    process.execPath,
    [CLI, 'broker', '--port', '0', '--data-dir', dataDir, '--fsync', FSYNC, '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /ready at (ws:\/\/\S+)/.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`broker exited ${code} before it was ready`)));
  });
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Publishes MESSAGES of `size` bytes with at most IN_FLIGHT unacknowledged; answers msg/s. */
async function produce(url: string, topic: string, size: number): Promise<number> {
  const ws = await open(`${url}/ws/v2/producer/${NAMESPACE}/${topic}`);
  const frame = JSON.stringify({ payload: Buffer.alloc(size, 'x').toString('base64') });
  let sent = 0;
  let acked = 0;
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const sendMore = (): void => {
      while (sent < MESSAGES && sent - acked < IN_FLIGHT) {
        ws.send(frame);
        sent++;
      }
    };
    ws.on('message', (data) => {
      const ack = JSON.parse(text(data)) as { result: string };
      if (ack.result !== 'ok') reject(new Error(`publish failed: ${text(data)}`));
      else if (++acked === MESSAGES) resolve();
      else sendMore();
    });
    ws.once('close', () => reject(new Error('producer closed during the run')));
    sendMore();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  ws.removeAllListeners('close');
  ws.close();
  return MESSAGES / seconds;
}

/** Reads MESSAGES back on a new subscription of `type`, acknowledging each; answers msg/s. */
async function consume(url: string, topic: string, type: string): Promise<number> {
  const started = process.hrtime.bigint();
  let received = 0;
  let receivedAll: () => void = () => undefined;
  const allReceived = new Promise<void>((resolve) => (receivedAll = resolve));
  const ws = await open(
    `${url}/ws/v2/consumer/${NAMESPACE}/${topic}/bench?subscriptionType=${type}` +
      `&receiverQueueSize=${IN_FLIGHT}&subscriptionInitialPosition=Earliest`,
    (socket, data) => {
      const { messageId } = JSON.parse(text(data)) as { messageId: string };
      socket.send(`{"messageId":"${messageId}"}`);
      if (++received === MESSAGES) receivedAll();
    },
  );
  await new Promise<void>((resolve, reject) => {
    void allReceived.then(resolve);
    ws.once('close', () => reject(new Error('consumer closed during the run')));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  ws.removeAllListeners('close');
  ws.close();
  return MESSAGES / seconds;
}

/** A phase that takes longer than this has hung (or regressed past any use): it fails. */
const PHASE_TIMEOUT_MS = Number(process.env.BENCH_PHASE_TIMEOUT_MS ?? 120_000);

async function withDeadline<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} took more than ${PHASE_TIMEOUT_MS} ms`)),
      PHASE_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function rate(value: number): string {
  return `${Math.round(value).toLocaleString('en-US')} msg/s`.padStart(14);
}

console.log(
  `broker throughput: ${MESSAGES} messages per run, ${IN_FLIGHT} in flight, --fsync ${FSYNC}, broker in its own process`,
);
const broker =
  process.env.BENCH_URL === undefined
    ? await startBroker()
    : { url: process.env.BENCH_URL, stop: () => Promise.resolve() };
const lowRatios: string[] = [];
try {
  // Warm-up: the broker's JIT and the first topic's files.
  await produce(broker.url, 'warm-up', 100);
  await consume(broker.url, 'warm-up', 'Exclusive');
  for (const size of SIZES) {
    for (const type of TYPES) {
      const topic = `bench-${type}-${size}-${Date.now()}-${process.pid}`;
      const produced = await withDeadline(`produce ${type} ${size} B`, produce(broker.url, topic, size));
      const consumed = await withDeadline(`consume ${type} ${size} B`, consume(broker.url, topic, type));
      const ratio = consumed / produced;
      console.log(
        `${`${size} B`.padStart(7)} ${type.padEnd(10)} produce ${rate(produced)}  consume ${rate(consumed)}  consume/produce ${ratio.toFixed(2)}`,
      );
      if (ratio < MIN_CONSUME_RATIO) lowRatios.push(`${type} ${size} B: ${ratio.toFixed(2)}`);
    }
  }
} finally {
  await broker.stop();
}
if (process.env.BENCH_CHECK === '1' && lowRatios.length > 0) {
  console.error(`bench: consume/produce below ${MIN_CONSUME_RATIO}: ${lowRatios.join(', ')}`);
  process.exitCode = 1;
}

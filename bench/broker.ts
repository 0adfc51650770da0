/**
 * `npm run bench:broker`: publish throughput of the embedded broker, as a ratio to the floor cost of
 * JSON over WebSocket on this machine. Both servers run in this process, measured with the same
 * pipelined raw `ws` client, so the ratio is stable across noisy machines while the msg/s are not.
 *
 *   baseline  an ack-only ws echo server: parses each publish frame and answers an ok ack
 *   broker    the embedded broker with fsync=always (the default) and fsync=never
 *
 * Options (env): BENCH_MESSAGES (default 100000), BENCH_PAYLOAD_BYTES (100), BENCH_IN_FLIGHT (1000).
 * No assertions: it prints figures.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { EmbeddedBroker } from '../src/broker/index.js';
import { textOf } from '../src/broker/sessions/socket.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const PAYLOAD_BYTES = Number(process.env.BENCH_PAYLOAD_BYTES ?? 100);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 1000);
const TOPIC_PATH = '/ws/v2/producer/persistent/public/default/bench';

/** Publishes MESSAGES with at most IN_FLIGHT unacked; returns msg/s. */
async function publishRun(url: string): Promise<number> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const payload = Buffer.alloc(PAYLOAD_BYTES, 'x').toString('base64');
  let sent = 0;
  let acked = 0;
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const sendMore = (): void => {
      while (sent < MESSAGES && sent - acked < IN_FLIGHT) {
        ws.send(`{"payload":"${payload}","context":"${sent}"}`);
        sent++;
      }
    };
    ws.on('message', (data) => {
      const ack = JSON.parse(textOf(data)) as { result: string };
      if (ack.result !== 'ok') {
        reject(new Error(`publish failed: ${textOf(data)}`));
        return;
      }
      acked++;
      if (acked === MESSAGES) resolve();
      else sendMore();
    });
    ws.once('close', () => reject(new Error('socket closed during the run')));
    sendMore();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  ws.removeAllListeners('close');
  ws.close();
  return MESSAGES / seconds;
}

async function echoServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  let entry = 0;
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(textOf(data)) as { context?: string; payload: string };
      Buffer.from(frame.payload, 'base64');
      const messageId = Buffer.from([0x08, 0x01, 0x10, entry++ & 0x7f, 0x30, 0x00]).toString('base64');
      ws.send(
        JSON.stringify({ result: 'ok', messageId, context: frame.context, errorCode: 0, schemaVersion: 0 }),
      );
    });
  });
  const { port } = wss.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}`, close: () => new Promise((resolve) => wss.close(() => resolve())) };
}

async function brokerRun(fsync: 'always' | 'never'): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pws-bench-'));
  const broker = await EmbeddedBroker.start({ port: 0, dataDir, fsync });
  try {
    return await publishRun(`${broker.url}${TOPIC_PATH}`);
  } finally {
    await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function format(rate: number): string {
  return `${Math.round(rate).toLocaleString('en-US')} msg/s`;
}

console.log(
  `publishing ${MESSAGES} × ${PAYLOAD_BYTES}-byte messages, ${IN_FLIGHT} in flight, one pipelined ws client`,
);
const echo = await echoServer();
// Warm up JIT and sockets on the baseline before measuring anything.
await publishRun(`${echo.url}${TOPIC_PATH}`);
const baseline = await publishRun(`${echo.url}${TOPIC_PATH}`);
await echo.close();
const always = await brokerRun('always');
const never = await brokerRun('never');
console.log(`baseline (ack-only ws echo server): ${format(baseline)}`);
console.log(`embedded broker, fsync=always:      ${format(always)}  ratio ${(always / baseline).toFixed(2)}`);
console.log(`embedded broker, fsync=never:       ${format(never)}  ratio ${(never / baseline).toFixed(2)}`);

/**
 * `npm run bench:streams`: producer and consumer stream throughput (msg/s, MB/s) for 100 B and 10 KB
 * messages, each as a ratio to a raw pipelined `ws` loop doing the same work against the same broker
 * in the same run. The ratio is the figure to watch (goal >= 0.95); msg/s vary with the machine.
 *
 *   producer  raw: base64 + JSON frames, at most IN_FLIGHT unacked, acks counted by context
 *             stream: `pipeline(Readable.from(buffers), client.producer(topic))` (maxInFlight IN_FLIGHT)
 *   consumer  raw: pull mode, permits for half the window at a time, payload decoded, each message acked
 *             stream: `pipeline(client.consumer(...), ackingSink(noop))`, highWaterMark WINDOW
 *
 * The broker (embedded, fsync=never) runs in a child process so that it does not share this process's
 * event loop. Runs alternate baseline and stream ROUNDS times; the median of each is reported.
 * Options (env): BENCH_ROUNDS (3), BENCH_SCALE (1: 50 000 small / 5 000 large messages per run).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { ackingSink, PulsarWsClient } from '../src/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const IN_FLIGHT = 1000;
const WINDOW = 1000;
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const CASES = [
  { label: '100 B', bytes: 100, messages: Math.round(50_000 * SCALE) },
  { label: '10 KB', bytes: 10 * 1024, messages: Math.round(5_000 * SCALE) },
];

let topicCounter = 0;
const nextTopic = (): string => `bench-${process.pid}-${topicCounter++}`;

async function startBroker(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pws-bench-streams-'));
  const child = spawn(
    process.execPath,
    [CLI, 'broker', '--port', '0', '--data-dir', dataDir, '--fsync', 'never'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /ready at (ws:\/\/\S+)/.exec(out);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`broker exited (${code}):\n${stderr}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill();
      await new Promise((resolve) => child.once('exit', resolve));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function openSocket(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function timed(run: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** The raw producer loop; returns seconds. */
async function rawProduce(url: string, topic: string, bytes: number, messages: number): Promise<number> {
  const ws = await openSocket(`${url}/ws/v2/producer/persistent/public/default/${topic}`);
  const payload = Buffer.alloc(bytes, 'x');
  const seconds = await timed(
    () =>
      new Promise<void>((resolve, reject) => {
        const pending = new Set<string>();
        let sent = 0;
        let acked = 0;
        const sendMore = (): void => {
          while (sent < messages && pending.size < IN_FLIGHT) {
            const context = String(sent++);
            pending.add(context);
            ws.send(JSON.stringify({ payload: payload.toString('base64'), context }));
          }
        };
        ws.on('message', (data: Buffer) => {
          const ack = JSON.parse(data.toString()) as { result: string; context: string };
          if (ack.result !== 'ok') reject(new Error(data.toString()));
          pending.delete(ack.context);
          if (++acked === messages) resolve();
          else sendMore();
        });
        sendMore();
      }),
  );
  ws.close();
  return seconds;
}

async function streamProduce(
  client: PulsarWsClient,
  topic: string,
  bytes: number,
  messages: number,
): Promise<number> {
  const payload = Buffer.alloc(bytes, 'x');
  const producer = client.producer(topic, { maxInFlight: IN_FLIGHT });
  await new Promise<void>((resolve) => producer.once('state', () => resolve()));
  return timed(() =>
    pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < messages; i++) yield payload;
        })(),
      ),
      producer,
    ),
  );
}

/** The raw pull-mode consumer loop; returns seconds. */
async function rawConsume(url: string, topic: string, messages: number): Promise<number> {
  const ws = await openSocket(
    `${url}/ws/v2/consumer/persistent/public/default/${topic}/s?pullMode=true&subscriptionInitialPosition=Earliest&receiverQueueSize=${WINDOW}`,
  );
  const seconds = await timed(
    () =>
      new Promise<void>((resolve) => {
        let received = 0;
        let sincePermit = 0;
        ws.on('message', (data: Buffer) => {
          const message = JSON.parse(data.toString()) as { messageId: string; payload: string };
          Buffer.from(message.payload, 'base64');
          ws.send(JSON.stringify({ messageId: message.messageId }));
          if (++received === messages) resolve();
          if (++sincePermit >= WINDOW / 2) {
            ws.send(JSON.stringify({ type: 'permit', permitMessages: sincePermit }));
            sincePermit = 0;
          }
        });
        ws.send(JSON.stringify({ type: 'permit', permitMessages: WINDOW }));
      }),
  );
  ws.close();
  return seconds;
}

async function streamConsume(client: PulsarWsClient, topic: string, messages: number): Promise<number> {
  return timed(async () => {
    const stop = new AbortController();
    let written = 0;
    const sink = new Writable({
      objectMode: true,
      highWaterMark: 64,
      write(_chunk, _encoding, callback) {
        callback();
        if (++written === messages) stop.abort();
      },
    });
    const consumer = client.consumer(topic, 's', {
      subscriptionInitialPosition: 'Earliest',
      highWaterMark: WINDOW,
    });
    await pipeline(consumer, ackingSink(sink, { highWaterMark: 64 }), { signal: stop.signal }).catch(
      (error: unknown) => {
        if ((error as Error).name !== 'AbortError') throw error;
      },
    );
  });
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

function report(
  side: string,
  label: string,
  bytes: number,
  messages: number,
  raw: number[],
  stream: number[],
): string {
  const rawRate = messages / median(raw);
  const streamRate = messages / median(stream);
  const mb = (rate: number) => ((rate * bytes) / 1e6).toFixed(1);
  return `| ${side} | ${label} | ${Math.round(rawRate)} msg/s, ${mb(rawRate)} MB/s | ${Math.round(streamRate)} msg/s, ${mb(streamRate)} MB/s | ${(streamRate / rawRate).toFixed(2)} |`;
}

async function main(): Promise<void> {
  const broker = await startBroker();
  const client = new PulsarWsClient({ url: broker.url });
  const rows: string[] = [];
  try {
    for (const { label, bytes, messages } of CASES) {
      const raw: number[] = [];
      const stream: number[] = [];
      const rawConsumed: number[] = [];
      const streamConsumed: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const rawTopic = nextTopic();
        const streamTopic = nextTopic();
        raw.push(await rawProduce(broker.url, rawTopic, bytes, messages));
        stream.push(await streamProduce(client, streamTopic, bytes, messages));
        // Both topics now hold `messages` messages: consume one each way.
        rawConsumed.push(await rawConsume(broker.url, rawTopic, messages));
        streamConsumed.push(await streamConsume(client, streamTopic, messages));
      }
      rows.push(report('producer', label, bytes, messages, raw, stream));
      rows.push(report('consumer', label, bytes, messages, rawConsumed, streamConsumed));
    }
  } finally {
    await client.close();
    await broker.stop();
  }
  console.log(
    `streams vs raw ws loop, median of ${ROUNDS} rounds (embedded broker, fsync=never, child process)\n`,
  );
  console.log('| side | message | raw ws loop | stream | ratio |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
}

await main();

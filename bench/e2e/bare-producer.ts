/**
 * A bare WebSocket producer for the end-to-end bench: reads a file of lines and publishes each line
 * (base64 in a JSON frame) with at most 1000 unacknowledged, as `file-to-topic` does, with nothing
 * else. Exits once every line is acknowledged.
 *
 * Run: `node --import tsx bench/e2e/bare-producer.ts <ws-url> <topic> <file>`.
 */
import { textOf } from '../../src/broker/sessions/socket.js';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [url, topic, file] = process.argv.slice(2);
const IN_FLIGHT = 1000;
const ws = new WebSocket(`${url}/ws/v2/producer/persistent/public/default/${topic}`);
await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
let sent = 0;
let acked = 0;
let wake: (() => void) | undefined;
ws.on('message', (data) => {
  const ack = JSON.parse(textOf(data)) as { result: string };
  if (ack.result !== 'ok') throw new Error(`publish failed: ${textOf(data)}`);
  acked++;
  wake?.();
});
for await (const line of createInterface({ input: createReadStream(file ?? ''), crlfDelay: Infinity })) {
  while (sent - acked >= IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
  ws.send(JSON.stringify({ payload: Buffer.from(line).toString('base64'), context: String(sent) }));
  sent++;
}
while (acked < sent) await new Promise<void>((resolve) => (wake = resolve));
ws.close();

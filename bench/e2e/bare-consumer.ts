/**
 * A bare WebSocket consumer for the end-to-end bench: consumes `count` messages (push mode, window
 * 1000), appends each payload and a newline to a file, acknowledges it once written, fsyncs at the
 * end, as `topic-to-file` does, with nothing else. Prints `subscribed` once its subscription exists.
 *
 * Run: `node --import tsx bench/e2e/bare-consumer.ts <ws-url> <topic> <file> <count>`.
 */
import { textOf } from '../../src/broker/sessions/socket.js';
import { open } from 'node:fs/promises';
import WebSocket from 'ws';

const [url, topic, file, countText] = process.argv.slice(2);
const count = Number(countText);
const output = await open(file ?? '', 'a');
const ws = new WebSocket(
  `${url}/ws/v2/consumer/persistent/public/default/${topic}/bench?subscriptionType=Exclusive` +
    '&receiverQueueSize=1000&subscriptionInitialPosition=Earliest',
);
const NEWLINE = Buffer.from('\n');
let received = 0;
let batch: Buffer[] = [];
let ids: string[] = [];
let writing: Promise<void> = Promise.resolve();
// Listening before the connection opens: the server may send deliveries right behind its answer to
// the handshake, in the same read, and ws emits them at once, before code awaiting 'open' resumes
// (messages lost that way left the bench waiting for them forever).
const done = new Promise<void>((resolve, reject) => {
  // A connection that ends early fails the run (it would otherwise end with the messages missing).
  ws.once('close', (code) =>
    reject(new Error(`the connection closed (${code}) after ${received} of ${count} messages`)),
  );
  ws.on('message', (data) => {
    const { messageId, payload } = JSON.parse(textOf(data)) as { messageId: string; payload: string };
    batch.push(Buffer.from(payload, 'base64'), NEWLINE);
    ids.push(messageId);
    received++;
    // Writes batched per event-loop turn, acks after the write, as a sink does.
    if (batch.length === 2) {
      writing = writing.then(async () => {
        await new Promise((next) => setImmediate(next));
        const [buffers, written] = [batch, ids];
        batch = [];
        ids = [];
        await output.writev(buffers);
        for (const id of written) ws.send(`{"messageId":"${id}"}`);
      });
    }
    if (received === count) void writing.then(resolve);
  });
});
await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
process.stdout.write('subscribed\n');
await done;
await writing;
await output.sync();
await output.close();
ws.close();

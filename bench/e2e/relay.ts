/**
 * A no-storage relay speaking the Pulsar WebSocket API's producer and consumer endpoints, for the
 * end-to-end bench: what the JSON + base64 protocol itself costs on this machine. A publish is parsed,
 * its base64 payload decoded, acknowledged at once and kept in memory; a consumer gets the kept
 * messages, re-encoded as delivered frames, in push mode with a window of 1000, and its acks are
 * parsed. Nothing is stored; one topic, one consumer, as the bench needs.
 *
 * Run: `node --import tsx bench/e2e/relay.ts`; prints `relay ready at ws://...`.
 */
import { textOf } from '../../src/broker/sessions/socket.js';
import { WebSocketServer, type WebSocket } from 'ws';

const WINDOW = 1000;
const queue: Buffer[] = [];
let consumer: WebSocket | undefined;
let unacked = 0;
let nextEntry = 0;

function messageId(entry: number): string {
  // Ledger 1, the entry as a varint: enough of a message id for a client to echo back.
  const bytes = [0x08, 0x01, 0x10];
  for (let value = entry; ; value = Math.floor(value / 128)) {
    if (value < 128) {
      bytes.push(value);
      break;
    }
    bytes.push((value % 128) | 0x80);
  }
  return Buffer.from(bytes).toString('base64');
}

function deliver(): void {
  while (consumer !== undefined && unacked < WINDOW && queue.length > 0) {
    const payload = queue.shift() as Buffer;
    consumer.send(
      JSON.stringify({
        messageId: messageId(nextEntry++),
        payload: payload.toString('base64'),
        properties: {},
        publishTime: new Date().toISOString(),
        redeliveryCount: 0,
      }),
    );
    unacked++;
  }
}

const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
server.on('connection', (ws, request) => {
  const path = request.url ?? '';
  if (path.includes('/consumer/')) {
    consumer = ws;
    ws.on('message', (data) => {
      JSON.parse(textOf(data)) as unknown;
      unacked--;
      deliver();
    });
    ws.on('close', () => (consumer = undefined));
    deliver();
    return;
  }
  let entry = 0;
  ws.on('message', (data) => {
    const frame = JSON.parse(textOf(data)) as { payload: string; context?: string };
    queue.push(Buffer.from(frame.payload, 'base64'));
    ws.send(JSON.stringify({ result: 'ok', messageId: messageId(entry++), context: frame.context }));
    deliver();
  });
});
server.on('listening', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`relay ready at ws://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

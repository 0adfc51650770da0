/**
 * Run the embedded broker from code, publish over the WebSocket API and read the message back.
 *
 *   node examples/embedded-broker.ts        (Node >= 22.18 runs TypeScript directly)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { EmbeddedBroker } from 'pulsar-ws-streams/broker';

const dataDir = await mkdtemp(join(tmpdir(), 'pulsar-ws-example-'));
const broker = await EmbeddedBroker.start({ dataDir, port: 0 });
const topicPath = 'persistent/public/default/example';

/** Resolves with the first frame a socket receives, parsed. */
function firstFrame<T>(ws: WebSocket): Promise<T> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()) as T));
    ws.once('error', reject);
  });
}

try {
  // A reader from the earliest message, opened before publishing.
  const reader = new WebSocket(`${broker.url}/ws/v2/reader/${topicPath}?messageId=earliest`);
  await new Promise((resolve) => reader.once('open', resolve));
  const delivered = firstFrame<{ messageId: string; payload: string; properties: Record<string, string> }>(
    reader,
  );

  const producer = new WebSocket(`${broker.url}/ws/v2/producer/${topicPath}`);
  await new Promise((resolve) => producer.once('open', resolve));
  const acked = firstFrame<{ result: string; messageId: string }>(producer);
  producer.send(
    JSON.stringify({
      payload: Buffer.from('hello').toString('base64'),
      properties: { lang: 'en' },
      context: '1',
    }),
  );
  const ack = await acked;
  console.log(`published: ${ack.result} ${ack.messageId}`);

  const message = await delivered;
  console.log(
    `read: ${Buffer.from(message.payload, 'base64').toString()} ${JSON.stringify(message.properties)}`,
  );
  if (message.messageId !== ack.messageId)
    throw new Error('the reader saw another message than the one acked');
  producer.close();
  reader.close();
} finally {
  await broker.stop();
  await rm(dataDir, { recursive: true, force: true });
}

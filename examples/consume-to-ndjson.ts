/**
 * A consumer writing NDJSON to a file with ack-after-write: each message is acknowledged only once
 * the file stream has written its line, so a crash at any point loses nothing (what was not written
 * is redelivered). Stops after the expected count here; a service would run until a signal.
 *
 *   node examples/consume-to-ndjson.ts        (uses PULSAR_WS_URL, or starts an embedded broker)
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ackableTransform, ackingSink, PulsarWsClient, type ConsumerMessage } from 'pulsar-ws-streams';
import { EmbeddedBroker } from 'pulsar-ws-streams/broker';

const dataDir = await mkdtemp(join(tmpdir(), 'pulsar-ws-ndjson-'));
const broker = process.env.PULSAR_WS_URL ? undefined : await EmbeddedBroker.start({ dataDir, port: 0 });
const client = new PulsarWsClient({ url: process.env.PULSAR_WS_URL ?? broker?.url ?? '' });
const topic = `events-${Date.now().toString(36)}`;
const outFile = join(dataDir, 'events.ndjson');

try {
  await pipeline(
    Readable.from(
      ['login', 'click', 'logout'].map((event) => ({ payload: event, properties: { app: 'demo' } })),
    ),
    client.producer(topic),
  );

  const toLine = (message: ConsumerMessage) =>
    `${JSON.stringify({ messageId: message.messageId, publishTime: message.publishTime, properties: message.properties, payload: message.payload.toString() })}\n`;
  // A consumer never ends by itself: this stage ends the pipeline after the 3 messages. The
  // consumer then waits (closeGraceMs) for the acks of the lines still being written.
  async function* firstThree(messages: AsyncIterable<ConsumerMessage>) {
    let count = 0;
    for await (const message of messages) {
      yield message;
      if (++count === 3) return;
    }
  }
  await pipeline(
    client.consumer(topic, 'ndjson-writer', { subscriptionInitialPosition: 'Earliest' }),
    firstThree,
    ackableTransform(toLine),
    ackingSink(createWriteStream(outFile)),
  );
  console.log(await readFile(outFile, 'utf8'));
} finally {
  await client.close();
  await broker?.stop();
  await rm(dataDir, { recursive: true, force: true });
}

/**
 * File sink: a subscription appended to an NDJSON file; each message is acknowledged only once the
 * file is fsynced (here at the end; by default at least every second), so nothing acknowledged can
 * be missing from the file after a crash.
 *
 *   node examples/file-sink.ts        (uses PULSAR_WS_URL, or starts an embedded broker)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PulsarWsClient, type ConsumerMessage } from 'pulsar-ws-streams';
import { EmbeddedBroker } from 'pulsar-ws-streams/broker';
import { FileSink } from 'pulsar-ws-streams/connectors';

const dir = await mkdtemp(join(tmpdir(), 'pulsar-ws-file-sink-'));
const broker = process.env.PULSAR_WS_URL
  ? undefined
  : await EmbeddedBroker.start({ dataDir: join(dir, 'broker'), port: 0 });
const client = new PulsarWsClient({ url: process.env.PULSAR_WS_URL ?? broker?.url ?? '' });
const topic = `orders-${Date.now().toString(36)}`;
const output = join(dir, 'orders.ndjson');

try {
  await pipeline(
    Readable.from(
      ['{"order":1}', '{"order":2}', '{"order":3}'].map((payload, i) => ({ payload, key: `c${i}` })),
    ),
    client.producer(topic),
  );

  // A consumer never ends: this stage stops after 3 messages; the sink then fsyncs and acknowledges.
  async function* firstThree(messages: AsyncIterable<ConsumerMessage>) {
    let count = 0;
    for await (const message of messages) {
      yield message;
      if (++count === 3) return;
    }
  }
  await pipeline(
    client.consumer(topic, 'archiver', { subscriptionInitialPosition: 'Earliest' }),
    firstThree,
    await FileSink.open(output, { format: 'ndjson', rotateBytes: 64 * 1024 * 1024 }),
  );
  process.stdout.write(await readFile(output, 'utf8'));
} finally {
  await client.close();
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
}

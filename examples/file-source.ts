/**
 * File source: publish a file line by line; the checkpoint records what the broker acknowledged, so
 * running it again resumes after it (here: nothing is sent twice, and an appended line is sent alone).
 *
 *   node examples/file-source.ts        (uses PULSAR_WS_URL, or starts an embedded broker)
 */
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PulsarWsClient } from 'pulsar-ws-streams';
import { EmbeddedBroker } from 'pulsar-ws-streams/broker';
import { CheckpointStore, FileSource } from 'pulsar-ws-streams/connectors';

const dir = await mkdtemp(join(tmpdir(), 'pulsar-ws-file-source-'));
const broker = process.env.PULSAR_WS_URL
  ? undefined
  : await EmbeddedBroker.start({ dataDir: join(dir, 'broker'), port: 0 });
const client = new PulsarWsClient({ url: process.env.PULSAR_WS_URL ?? broker?.url ?? '' });
const topic = `lines-${Date.now().toString(36)}`;
const input = join(dir, 'input.txt');

/** One run of "file → topic", resuming from the checkpoint. */
async function publishFile(): Promise<void> {
  const checkpoint = await CheckpointStore.open(join(dir, 'checkpoint.json'));
  const source = await FileSource.open(input, { format: 'lines', checkpoint });
  await pipeline(source, client.producer(topic));
  await checkpoint.flush();
  console.log(
    `published from message ${source.firstMessage}; checkpoint: ${JSON.stringify(checkpoint.get(source.path))}`,
  );
}

try {
  await writeFile(input, 'alpha\nbeta\ngamma\n');
  await publishFile();
  await publishFile(); // nothing new: resumes at the end
  await appendFile(input, 'delta\n');
  await publishFile(); // only the appended line
  const stored = await client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true }).toArray();
  console.log(`on the topic: ${stored.map((m) => m.payload.toString()).join(', ')}`);
} finally {
  await client.close();
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
}

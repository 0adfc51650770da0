/**
 * stdin source and stdout sink: frame any byte stream (here a stand-in for process.stdin) as NDJSON
 * messages with keys from a field, publish them, and print the topic as NDJSON envelopes.
 *
 *   node examples/stdin-stdout.ts        (uses PULSAR_WS_URL, or starts an embedded broker)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PulsarWsClient } from 'pulsar-ws-streams';
import { EmbeddedBroker } from 'pulsar-ws-streams/broker';
import { stdinSource, stdoutSink } from 'pulsar-ws-streams/connectors';

const dir = await mkdtemp(join(tmpdir(), 'pulsar-ws-stdin-'));
const broker = process.env.PULSAR_WS_URL ? undefined : await EmbeddedBroker.start({ dataDir: dir, port: 0 });
const client = new PulsarWsClient({ url: process.env.PULSAR_WS_URL ?? broker?.url ?? '' });
const topic = `readings-${Date.now().toString(36)}`;

try {
  // In a real script: stdinSource({ format: 'ndjson', keyField: 'sensor' }) reads process.stdin.
  const fakeStdin = Readable.from([
    Buffer.from('{"sensor":"s1","t":20.5}\n{"sensor":"s2",'),
    Buffer.from('"t":19.0}\n'),
  ]);
  await pipeline(stdinSource({ format: 'ndjson', keyField: 'sensor' }, fakeStdin), client.producer(topic));
  // stdoutSink acknowledges what it wrote; a reader has nothing to acknowledge, and that is fine too.
  await pipeline(
    client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true }),
    stdoutSink('ndjson', process.stdout),
    { end: false },
  );
} finally {
  await client.close();
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
}

/**
 * A stream-chain composition with ack-after-write through 1→n and n→1 steps: each message (a
 * sentence) becomes several words (`many`), words are grouped in pairs (`ackableBatch`), and a source
 * message is acknowledged only once every output made from it has been written.
 *
 *   node examples/stream-chain.ts        (uses PULSAR_WS_URL, or starts an embedded broker)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import chain from 'stream-chain';
import { many } from 'stream-chain/defs.js';
import { ackable, ackableBatch, ackingSink, PulsarWsClient, type ConsumerMessage } from 'pulsar-ws-streams';
import { EmbeddedBroker } from 'pulsar-ws-streams/broker';

const dataDir = await mkdtemp(join(tmpdir(), 'pulsar-ws-chain-'));
const broker = process.env.PULSAR_WS_URL ? undefined : await EmbeddedBroker.start({ dataDir, port: 0 });
const client = new PulsarWsClient({ url: process.env.PULSAR_WS_URL ?? broker?.url ?? '' });
const topic = `sentences-${Date.now().toString(36)}`;

try {
  await pipeline(
    Readable.from(['the quick brown', 'fox jumps', 'over the lazy dog']),
    client.producer(topic),
  );

  // Duplex.from() hands back stream-chain's duplex itself, typed as the Duplex @types/node's pipeline() takes.
  const words = Duplex.from(
    chain([
      ackable((message: ConsumerMessage) => many(message.payload.toString().split(' '))), // 1 → n
      ackableBatch<string>(2), // n → 1
      ackable((pair: string[]) => pair.join(' + ')),
    ]),
  );

  const stop = new AbortController();
  let pairs = 0;
  const printer = new Writable({
    objectMode: true,
    write(line: string, _encoding, callback) {
      console.log(line);
      callback();
      // 9 words make 5 groups (the last one is a single word, emitted at the end of the stream,
      // which a consumer never reaches): stop after the 4 full pairs.
      if (++pairs === 4) setImmediate(() => stop.abort());
    },
  });
  await pipeline(
    client.consumer(topic, 'words', { subscriptionInitialPosition: 'Earliest' }),
    words,
    ackingSink(printer),
    {
      signal: stop.signal,
    },
  ).catch((error: unknown) => {
    if (!(error instanceof Error && error.name === 'AbortError')) throw error;
  });
  console.log('the last word ("dog") was not written, so its sentence was not acknowledged: it comes again');
} finally {
  await client.close();
  await broker?.stop();
  await rm(dataDir, { recursive: true, force: true });
}

/** The producer Writable against the embedded broker: acks, pipelining bound, errors, reconnection. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/broker/index.js';
import { WsSession } from '../../src/client/session.js';
import { ProducerStream, type ProducerAckEvent } from '../../src/streams/producer-stream.js';
import type { DeliveredMessage } from '../../src/protocol/index.js';
import { useEmbeddedBrokers } from '../helpers/embedded.js';
import { range } from '../helpers/publish.js';
import { fromBase64, TestSocket } from '../helpers/ws-client.js';

const startBroker = useEmbeddedBrokers();
const sockets: TestSocket[] = [];
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((socket) => socket.close()));
});

function producer(
  url: string,
  options: ConstructorParameters<typeof ProducerStream>[1] = {},
): ProducerStream {
  return new ProducerStream(
    new WsSession({ url, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } }),
    options,
  );
}

async function readAll(url: string, count: number): Promise<DeliveredMessage[]> {
  const reader = await TestSocket.open(`${url}?messageId=earliest`);
  sockets.push(reader);
  const messages: DeliveredMessage[] = [];
  while (messages.length < count) {
    const message = await reader.next<DeliveredMessage>();
    messages.push(message);
    reader.send({ messageId: message.messageId });
  }
  return messages;
}

const topicPath = (kind: string, topic: string) => `/ws/v2/${kind}/persistent/public/default/${topic}`;

describe('ProducerStream', () => {
  it('pipeline() writes every message; finish comes after every ack', async () => {
    const broker = await startBroker();
    const stream = producer(`${broker.url}${topicPath('producer', 'p1')}`, { maxInFlight: 10 });
    const acks: ProducerAckEvent[] = [];
    stream.on('ack', (ack: ProducerAckEvent) => acks.push(ack));
    await pipeline(
      Readable.from(
        range(100).map((text, i) =>
          i % 2 === 0 ? text : { payload: text, key: `k${i}`, properties: { i: String(i) } },
        ),
      ),
      stream,
    );
    expect(acks).toHaveLength(100);
    const read = await readAll(`${broker.url}${topicPath('reader', 'p1')}`, 100);
    expect(read.map((m) => fromBase64(m.payload))).toEqual(range(100));
    expect(read.map((m) => m.messageId)).toEqual(acks.map((ack) => ack.messageId));
    expect(read[1]).toMatchObject({ key: 'k1', properties: { i: '1' } });
  });

  it('a send-error destroys the stream with a SendError carrying the context', async () => {
    const broker = await startBroker({ maxMessageSize: 4 });
    const stream = producer(`${broker.url}${topicPath('producer', 'p2')}`);
    await expect(pipeline(Readable.from(['ok', 'too long for the broker']), stream)).rejects.toMatchObject({
      code: 'PWS_ERR_SEND',
      result: 'send-error:8',
      context: '1',
    });
  });

  it('refuses a message over the frame limit before sending it', async () => {
    const broker = await startBroker();
    const stream = producer(`${broker.url}${topicPath('producer', 'p3')}`, { maxFrameBytes: 100 });
    await expect(pipeline(Readable.from([Buffer.alloc(200)]), stream)).rejects.toMatchObject({
      code: 'PWS_ERR_INVALID_ARG',
    });
  });

  it('a refused handshake fails the pipeline with the mapped error', async () => {
    const broker = await startBroker();
    const stream = producer(`${broker.url}/ws/v2/producer/persistent/public/nope/t`);
    await expect(pipeline(Readable.from(['x']), stream)).rejects.toMatchObject({
      code: 'PWS_ERR_CONNECT',
      status: 404,
    });
  });

  it('resends unacknowledged messages after a reconnect: nothing is lost', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pws-producer-restart-'));
    let broker = await EmbeddedBroker.start({ port: 0, dataDir, fsync: 'never' });
    const port = broker.port;
    try {
      const stream = producer(`${broker.url}${topicPath('producer', 'p4')}`, { maxInFlight: 5 });
      let acked = 0;
      stream.on('ack', () => {
        acked++;
      });
      const source = Readable.from(
        (async function* () {
          for (let i = 0; i < 40; i++) {
            if (i === 20) {
              await broker.stop();
              broker = await EmbeddedBroker.start({ port, dataDir, fsync: 'never' });
            }
            yield `m${i}`;
          }
        })(),
      );
      await pipeline(source, stream);
      expect(acked).toBe(40);
      // At-least-once: resent messages may be stored twice; every message must be there.
      const reader = await TestSocket.open(`${broker.url}${topicPath('reader', 'p4')}?messageId=earliest`);
      sockets.push(reader);
      const seen = new Set<string>();
      for (let read = 0; seen.size < 40 && read < 80; read++) {
        const message = await reader.next<DeliveredMessage>();
        seen.add(fromBase64(message.payload));
        reader.send({ messageId: message.messageId });
      }
      expect(seen).toEqual(new Set(range(40)));
    } finally {
      await broker.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

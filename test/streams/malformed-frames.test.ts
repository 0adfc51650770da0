/**
 * A server that sends nonsense: frames injected by the fault proxy into a healthy session. Each bad
 * frame must destroy the stream with a `ProtocolError` naming the frame and the field (no uncaught
 * exception, no hang); unknown extra fields are accepted. Embedded broker (the proxy injects, so the
 * server behind it does not matter).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessageId, messageIdOf } from '../../src/protocol/index.js';
import { ProtocolError, PulsarWsClient, type ConsumerMessage } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { publishAll } from '../helpers/publish.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function proxyTo(url: string): Promise<FaultProxy> {
  const proxy = await startFaultProxy(url);
  cleanups.push(() => proxy.close());
  return proxy;
}

function clientFor(url: string): PulsarWsClient {
  const client = new PulsarWsClient({ url, reconnect: false });
  cleanups.push(() => client.close());
  return client;
}

const validId = encodeMessageId(messageIdOf(7, 3));
const validMessage = {
  messageId: validId,
  payload: Buffer.from('hello').toString('base64'),
  properties: { a: '1' },
  publishTime: '2026-01-01T00:00:00.000Z',
  redeliveryCount: 0,
};

const badConsumerFrames: { name: string; frame: string; field: string | undefined; text: RegExp }[] = [
  { name: 'not JSON', frame: 'hello, not json', field: undefined, text: /not JSON/ },
  { name: 'a JSON array', frame: '[1,2,3]', field: undefined, text: /expected a JSON object, got an array/ },
  { name: 'a JSON number', frame: '42', field: undefined, text: /expected a JSON object/ },
  {
    name: 'a message without payload',
    frame: JSON.stringify({ ...validMessage, payload: undefined }),
    field: 'payload',
    text: /field `payload` is missing/,
  },
  {
    name: 'a message with a numeric messageId',
    frame: JSON.stringify({ ...validMessage, messageId: 12 }),
    field: 'messageId',
    text: /field `messageId` expected a string, got number 12/,
  },
  {
    name: 'a message with non-string properties',
    frame: JSON.stringify({ ...validMessage, properties: { a: 1 } }),
    field: 'properties.a',
    text: /properties\.a/,
  },
  {
    name: 'a message whose encryptionContext has no keys',
    frame: JSON.stringify({ ...validMessage, encryptionContext: { param: 'AAAA', keys: 'nope' } }),
    field: 'encryptionContext.keys',
    text: /field `encryptionContext.keys` expected an object/,
  },
  {
    name: 'an object that is neither a message nor an answer',
    frame: JSON.stringify({ hello: 'world' }),
    field: 'messageId',
    text: /field `messageId` is missing/,
  },
];

async function consumerError(frame: string): Promise<unknown> {
  const proxy = await proxyTo(target.wsUrl);
  proxy.injectOnConnect(frame);
  const consumer = clientFor(proxy.url).consumer(uniqueTopic('bad-frame'), 's');
  return consumer.toArray().then(
    () => new Error('the consumer ended without an error'),
    (error: unknown) => error,
  );
}

describe('malformed server frames', () => {
  for (const { name, frame, field, text } of badConsumerFrames) {
    it(`consumer: ${name} destroys the stream with a ProtocolError`, async () => {
      const error = await consumerError(frame);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code).toBe('PWS_ERR_PROTOCOL');
      expect((error as ProtocolError).frameKind).toBe('consumer frame');
      expect((error as ProtocolError).field).toBe(field);
      expect((error as Error).message).toMatch(text);
    });
  }

  it('reader: a message without payload destroys the stream with a ProtocolError', async () => {
    const proxy = await proxyTo(target.wsUrl);
    proxy.injectOnConnect(JSON.stringify({ ...validMessage, payload: undefined }));
    const reader = clientFor(proxy.url).reader(uniqueTopic('bad-read'), { startMessageId: 'earliest' });
    const error = await reader.toArray().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).frameKind).toBe('reader frame');
    expect((error as ProtocolError).field).toBe('payload');
  });

  it('consumer: unknown extra fields are accepted', async () => {
    const proxy = await proxyTo(target.wsUrl);
    proxy.injectOnConnect(JSON.stringify({ ...validMessage, someFutureField: { x: [1] }, key: 'k' }));
    const consumer = clientFor(proxy.url).consumer(uniqueTopic('extra'), 's');
    const iterator = consumer[Symbol.asyncIterator]() as AsyncIterator<ConsumerMessage>;
    const first: IteratorResult<ConsumerMessage> = await iterator.next();
    const message = first.value as ConsumerMessage;
    expect(message.payload.toString()).toBe('hello');
    expect(message.key).toBe('k');
    expect(message.properties).toEqual({ a: '1' });
    consumer.destroy();
  });

  for (const [name, ack, field] of [
    ['not JSON', '{oops', undefined],
    ['not an object', '"ok"', undefined],
    ['an array', '[{"result":"ok"}]', undefined],
    ['without result', '{"messageId":"CAEQADAA","context":"0"}', 'result'],
    ['ok without messageId', '{"result":"ok","context":"0"}', 'messageId'],
  ] as const) {
    it(`producer: an ack that is ${name} destroys the stream with a ProtocolError`, async () => {
      const proxy = await proxyTo(target.wsUrl);
      // The real acks never arrive; the bad one does.
      proxy.dropFrames('toClient', () => true);
      proxy.injectOnConnect(ack);
      const producer = clientFor(proxy.url).producer(uniqueTopic('bad-ack'));
      const error = await pipeline(Readable.from(['a', 'b']), producer).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).frameKind).toBe('producer ack');
      expect((error as ProtocolError).field).toBe(field);
    });
  }

  it('a bad frame in the middle of a healthy stream: the messages before it were delivered', async () => {
    const topic = uniqueTopic('mid-stream');
    await publishAll(target, topic, ['one', 'two', 'three']);
    const proxy = await proxyTo(target.wsUrl);
    const consumer = clientFor(proxy.url).consumer(topic, 's', { subscriptionInitialPosition: 'Earliest' });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const message of consumer) {
        seen.push(message.payload.toString());
        message.ack();
        if (seen.length === 3) proxy.inject('[]');
      }
    })().catch((caught: unknown) => caught);
    expect(seen).toEqual(['one', 'two', 'three']);
    expect(error).toBeInstanceOf(ProtocolError);
  });
});

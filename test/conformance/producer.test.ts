/**
 * Producer endpoint (docs/protocol.md §3): ack shape, pipelining and order, the per-message error catalogue of
 * §3.3 (each followed by a valid frame on the same socket), frame size limit, handshake statuses.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { producerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { base64, handshakeStatus, SocketPool, type TestSocket } from '../helpers/ws-client.js';
import { decodeMessageId, compareMessageIds } from '../../src/protocol/index.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

interface Ack {
  result: string;
  messageId?: string;
  context?: string;
  errorMsg?: string;
  errorCode?: number;
  schemaVersion?: number;
}

async function expectValidFrameStillWorks(socket: TestSocket, context: string): Promise<void> {
  socket.send({ payload: base64('still-alive'), context });
  const ack = await socket.next<Ack>();
  expect(ack).toMatchObject({ result: 'ok', context });
}

describe('producer', () => {
  it('acks a publish with messageId, context, errorCode 0 and schemaVersion 0', async () => {
    const socket = await pool.open(producerUrl(target, uniqueTopic()));
    socket.send({ payload: base64('hello'), properties: { k: 'v' }, context: 'c1' });
    const ack = await socket.next<Ack>();
    expect(Object.keys(ack).sort()).toEqual(['context', 'errorCode', 'messageId', 'result', 'schemaVersion']);
    expect(ack).toMatchObject({ result: 'ok', context: 'c1', errorCode: 0, schemaVersion: 0 });
    // A current-style id: batch_size 0 written, no partition.
    const id = decodeMessageId(ack.messageId ?? '');
    expect(id).toMatchObject({ partition: -1, batchIndex: -1, batchSize: 0 });
  });

  it('pipelines 200 sends and acks them in publish order with increasing ids', async () => {
    const socket = await pool.open(producerUrl(target, uniqueTopic()));
    for (let i = 0; i < 200; i++) socket.send({ payload: base64(`m${i}`), context: String(i) });
    const acks = await socket.take<Ack>(200);
    expect(acks.map((ack) => ack.context)).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    expect(acks.every((ack) => ack.result === 'ok')).toBe(true);
    const ids = acks.map((ack) => decodeMessageId(ack.messageId ?? ''));
    for (let i = 1; i < ids.length; i++) {
      expect(compareMessageIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
    }
  });

  it('omits context from the ack when the frame had none', async () => {
    const socket = await pool.open(producerUrl(target, uniqueTopic()));
    socket.send({ payload: base64('x') });
    const ack = await socket.next<Ack>();
    expect(ack.result).toBe('ok');
    expect(ack).not.toHaveProperty('context');
  });

  it('accepts a numeric context (as the seed Python client sends) and echoes it as a string', async () => {
    const socket = await pool.open(producerUrl(target, uniqueTopic()));
    socket.send({ payload: base64('x'), context: 5 });
    expect(await socket.next<Ack>()).toMatchObject({ result: 'ok', context: '5' });
  });

  it("accepts Pulsar's own test-client frame with the full DTO (ignored fields included)", async () => {
    const socket = await pool.open(producerUrl(target, uniqueTopic()));
    socket.send(
      '{"payload":"dGVzdDA=","key":"0","sequenceId":0,"disableReplication":false,"deliverAt":0,"deliverAfterMs":0,"schemaVersion":0,"context":"dto"}',
    );
    expect(await socket.next<Ack>()).toMatchObject({ result: 'ok', context: 'dto' });
  });

  it('accepts an empty payload', async () => {
    const socket = await pool.open(producerUrl(target, uniqueTopic()));
    socket.send({ payload: '', context: 'empty' });
    expect(await socket.next<Ack>()).toMatchObject({ result: 'ok', context: 'empty' });
  });

  it('accepts a trailing slash on the producer path (docs/protocol.md §14 scenario 1)', async () => {
    const socket = await pool.open(`${producerUrl(target, uniqueTopic())}/`);
    socket.send({ payload: base64('x'), context: 'slash' });
    expect(await socket.next<Ack>()).toMatchObject({ result: 'ok', context: 'slash' });
  });

  it('ignores binary frames and keeps the connection open', async () => {
    const socket = await pool.open(producerUrl(target, uniqueTopic()));
    socket.ws.send(Buffer.from('{"payload":"eA=="}'), { binary: true });
    await expectValidFrameStillWorks(socket, 'after-binary');
  });
});

describe('producer error catalogue (docs/protocol.md §3.3): per-message errors, connection stays open', () => {
  const rows: { name: string; frame: string; result: string; context: boolean; errorMsg?: RegExp }[] = [
    {
      name: 'invalid JSON',
      frame: '{"payload": "eA==", "context": "c"',
      result: 'send-error:3',
      context: false,
    },
    { name: 'not a JSON object', frame: '["eA=="]', result: 'send-error:3', context: false },
    {
      name: 'type mismatch (properties is an array)',
      frame: '{"payload":"eA==","properties":["a"],"context":"c"}',
      result: 'send-error:3',
      context: false,
    },
    {
      name: 'type mismatch (deliverAt is not a number)',
      frame: '{"payload":"eA==","deliverAt":"soon","context":"c"}',
      result: 'send-error:3',
      context: false,
    },
    {
      name: 'invalid base64 payload',
      frame: '{"payload":"not-base64!","context":"c"}',
      result: 'send-error:7',
      context: true,
      errorMsg: /^Invalid Base64 message-payload error=Illegal base64 character 2d/,
    },
    {
      name: 'URL-safe base64 payload',
      frame: '{"payload":"_w==","context":"c"}',
      result: 'send-error:7',
      context: true,
      errorMsg: /Illegal base64 character 5f/,
    },
    {
      name: 'payload missing',
      frame: '{"properties":{},"context":"c"}',
      result: 'send-error:7',
      context: true,
    },
    { name: 'payload null', frame: '{"payload":null,"context":"c"}', result: 'send-error:7', context: true },
    {
      name: 'eventTime without offset',
      frame: '{"payload":"eA==","eventTime":"2024-05-01T10:00:00","context":"c"}',
      result: 'send-error:7',
      context: true,
    },
    {
      name: 'eventTime not a date',
      frame: '{"payload":"eA==","eventTime":"yesterday","context":"c"}',
      result: 'send-error:7',
      context: true,
    },
  ];

  for (const row of rows) {
    it(`${row.name} → ${row.result}, context ${row.context ? 'echoed' : 'absent'}`, async () => {
      const socket = await pool.open(producerUrl(target, uniqueTopic()));
      socket.send(row.frame);
      const ack = await socket.next<Ack>();
      expect(ack.result).toBe(row.result);
      expect(ack).not.toHaveProperty('messageId');
      if (row.context) expect(ack.context).toBe('c');
      else expect(ack).not.toHaveProperty('context');
      if (row.errorMsg !== undefined) expect(ack.errorMsg).toMatch(row.errorMsg);
      await expectValidFrameStillWorks(socket, 'next');
    });
  }

  it('a frame over the text frame limit (1 MiB) closes the session with 1009', async () => {
    const socket = await pool.open(producerUrl(target, uniqueTopic()));
    socket.send({ payload: 'A'.repeat(1024 * 1024 + 16), context: 'big' });
    const closed = await socket.closed;
    expect(closed.code).toBe(1009);
  });
});

describe('producer handshake', () => {
  it('a second producer with the same producerName is refused with 409 (docs/protocol.md §14 scenario 6)', async () => {
    const topic = uniqueTopic();
    const url = producerUrl(target, topic, '?producerName=same-name');
    await pool.open(url);
    expect(await handshakeStatus(url)).toBe(409);
  });

  it('the name is free again once the first producer disconnected', async () => {
    const url = producerUrl(target, uniqueTopic(), '?producerName=reused');
    const first = await pool.open(url);
    await first.close();
    await expect(pool.reopen(url)).resolves.toBeDefined();
  });

  for (const [param, value] of [
    ['initialSequenceId', 'abc'],
    ['sendTimeoutMillis', '1.5'],
    ['sendTimeoutMillis', '-1'],
    ['hashingScheme', 'Sha1'],
    ['messageRoutingMode', 'Random'],
    ['compressionType', 'BROTLI'],
  ] as const) {
    it(`${param}=${value} is refused with 400`, async () => {
      expect(await handshakeStatus(producerUrl(target, uniqueTopic(), `?${param}=${value}`))).toBe(400);
    });
  }

  it('messageRoutingMode=CustomPartition is accepted (and ignored)', async () => {
    expect(
      await handshakeStatus(producerUrl(target, uniqueTopic(), '?messageRoutingMode=CustomPartition')),
    ).toBe(101);
  });

  for (const query of [
    'batchingEnabled=true&maxPendingMessages=-1',
    'batchingEnabled=true&batchingMaxPublishDelay=-1',
  ]) {
    it(`${query} is refused with 400`, async () => {
      expect(await handshakeStatus(producerUrl(target, uniqueTopic(), `?${query}`))).toBe(400);
    });
  }

  it('batching knobs are not parsed while batching is off (Pulsar 3.x+)', async () => {
    expect(await handshakeStatus(producerUrl(target, uniqueTopic(), '?batchingMaxMessages=abc'))).toBe(101);
  });
});

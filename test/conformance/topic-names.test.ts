/**
 * Topic and subscription names as Pulsar takes them (issue "Embedded broker under load", point 7):
 * long names round-trip through producer, consumer and reader; an encoded NUL is refused by the HTTP
 * server (400); control characters are ordinary characters; blank local names and slashed local names
 * Pulsar reads as invalid v1 names fail as Pulsar fails them (500, its message).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { base64, fromBase64, HandshakeRefusedError, SocketPool, TestSocket } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

const ns = 'persistent/public/default';
const wsPath = (kind: 'producer' | 'reader', local: string) => `${target.wsUrl}/ws/v2/${kind}/${ns}/${local}`;
const consumerPath = (local: string, subscription: string) =>
  `${target.wsUrl}/ws/v2/consumer/${ns}/${local}/${subscription}`;
const topicAdmin = (local = '') =>
  `${target.adminUrl}/admin/v2/persistent/public/default${local === '' ? '' : `/${local}`}`;

/** A unique local name of exactly `length` characters. */
function nameOfLength(length: number): string {
  const base = `${uniqueTopic('long')}-`;
  return base + 'x'.repeat(length - base.length);
}

/** The HTTP status and error text of a refused handshake (the `<title>` of Jetty's page, or its body). */
async function refusal(url: string): Promise<{ status: number; message: string }> {
  try {
    const socket = await TestSocket.open(url);
    await socket.close();
    return { status: 101, message: '' };
  } catch (error) {
    if (!(error instanceof HandshakeRefusedError)) throw error;
    const title = /<title>([\s\S]*?)<\/title>/.exec(error.body)?.[1];
    return { status: error.status, message: title ?? error.body };
  }
}

/** Publishes `payloads` to an encoded local name; a consumer and a reader from the start get them all. */
async function roundTrip(
  encodedLocal: string,
  encodedSubscription: string,
  payloads: string[],
): Promise<void> {
  const consumer = await pool.open(
    `${consumerPath(encodedLocal, encodedSubscription)}?subscriptionInitialPosition=Earliest`,
  );
  const producer = await pool.open(wsPath('producer', encodedLocal));
  payloads.forEach((payload, index) => producer.send({ payload: base64(payload), context: String(index) }));
  for (const ack of await producer.take<{ result: string }>(payloads.length)) expect(ack.result).toBe('ok');
  const consumed = await consumer.take<{ payload: string; messageId: string }>(payloads.length);
  for (const message of consumed) consumer.send({ messageId: message.messageId });
  expect(consumed.map((message) => fromBase64(message.payload))).toEqual(payloads);
  const reader = await pool.open(`${wsPath('reader', encodedLocal)}?messageId=earliest`);
  const read = await reader.take<{ payload: string }>(payloads.length);
  expect(read.map((message) => fromBase64(message.payload))).toEqual(payloads);
}

describe('long names', () => {
  for (const length of [300, 2000]) {
    it(`a ${length}-character local name and subscription name round-trip (producer, consumer, reader)`, async () => {
      const local = nameOfLength(length);
      const subscription = `sub-${'s'.repeat(length - 4)}`;
      await roundTrip(local, subscription, ['one', 'two', 'three']);
    });
  }

  it('a name of 1000 two-byte characters (6000 in the URL) round-trips; admin lists it by its full name', async () => {
    const local = `${uniqueTopic('wide')}-${'é'.repeat(1000)}`;
    await roundTrip(encodeURIComponent(local), 'sub', ['é']);
    const listed = (await (await fetch(topicAdmin())).json()) as string[];
    expect(listed).toContain(`persistent://public/default/${local}`);
  });

  it('admin creates and deletes a 1000-character topic', async () => {
    const local = nameOfLength(1000);
    expect((await fetch(topicAdmin(local), { method: 'PUT' })).status).toBe(204);
    expect((await fetch(topicAdmin(local), { method: 'PUT' })).status).toBe(409);
    expect(await (await fetch(topicAdmin())).json()).toContain(`persistent://public/default/${local}`);
    expect((await fetch(topicAdmin(local), { method: 'DELETE' })).status).toBe(204);
  });
});

describe('characters in names', () => {
  it('an encoded NUL in the path is refused with 400 for every endpoint and the admin API', async () => {
    const local = `${uniqueTopic()}-a%00b`;
    expect((await refusal(wsPath('producer', local))).status).toBe(400);
    expect((await refusal(wsPath('reader', local))).status).toBe(400);
    expect((await refusal(consumerPath(local, 'sub'))).status).toBe(400);
    expect((await refusal(consumerPath(uniqueTopic(), 'sub%00x'))).status).toBe(400);
    expect((await fetch(topicAdmin(local), { method: 'PUT' })).status).toBe(400);
  });

  it('other control characters are ordinary characters of a name', async () => {
    const local = encodeURIComponent(`${uniqueTopic()}-\u0001\t\n\r\u001f\u007f\u0085\u2028`);
    await roundTrip(local, encodeURIComponent('sub\u0001\u007f'), ['ctl']);
  });

  it('a blank local name fails with 500 and Pulsar message', async () => {
    for (const blank of ['%20', '%09', '%E3%80%80', '%1C']) {
      const { status, message } = await refusal(wsPath('producer', blank));
      expect(status).toBe(500);
      expect(message).toMatch(
        /Invalid topic name: persistent:\/\/public\/default\/.*Topic local name must not be blank/,
      );
    }
    // A no-break space is not white space to Java.
    expect((await refusal(wsPath('producer', `%C2%A0${uniqueTopic()}`))).status).toBe(101);
    expect((await fetch(topicAdmin('%20'), { method: 'PUT' })).status).toBe(412);
  });

  it('a blank subscription name fails with 400, on v2 and on multi-topic (v3) consumers', async () => {
    const topic = uniqueTopic();
    const v2 = await refusal(consumerPath(topic, '%20%09'));
    expect(v2.status).toBe(400);
    expect(v2.message).toContain('Invalid query params: subscriptionName cannot be blank');
    const v3 = await refusal(`${target.wsUrl}/ws/v3/consumer/%20?topics=${topic}`);
    expect(v3.status).toBe(400);
    expect(v3.message).toContain('subscriptionName cannot be blank');
  });

  it('a slash in a local name: Pulsar reads `a/b` as namespace `a`, local name `b`', async () => {
    const base = uniqueTopic();
    // Valid either way.
    expect((await refusal(wsPath('producer', `${base}/a%20b`))).status).toBe(101);
    const leading = await refusal(wsPath('producer', `%2F${base}`));
    expect(leading.status).toBe(500);
    expect(leading.message).toContain('Invalid namespace format. namespace: public/default/');
    const badNamespace = await refusal(wsPath('producer', `a%20${base}/b`));
    expect(badNamespace.status).toBe(500);
    expect(badNamespace.message).toContain(`Invalid named entity: a ${base}`);
    const trailing = await refusal(wsPath('producer', `${base}%2F`));
    expect(trailing.status).toBe(500);
    expect(trailing.message).toContain('Topic local name must not be blank');
    expect((await fetch(topicAdmin(`%2F${base}`), { method: 'PUT' })).status).toBe(412);
  });
});

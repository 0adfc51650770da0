/**
 * Rotating credentials with the library's `tokenFile` (docs/api.md): the file is read again before
 * every connection attempt. A producer and a consumer connect through a fault proxy with token A; the
 * file is rotated to token B and the open sessions go on; the proxy cuts every connection; both
 * reconnect, the proxy saw B in their handshakes and the server took it, and no message is lost or
 * duplicated. A session outlives its token (the server checks a token only at the handshake, as
 * Pulsar does), but once the token expired a reconnect with it is refused. A reconnect that cannot
 * read the file is logged naming it and retried until the file is back. Which token a reconnect sent
 * is read off the proxy, so no test depends on when a token expires. Runs against the embedded broker
 * with token auth, or Apache Pulsar with token auth (PULSAR_AUTH_WS_URL, .ci/run).
 */
import type { EventEmitter } from 'node:events';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createToken } from '../../src/broker/index.js';
import {
  AuthError,
  PulsarWsClient,
  type ConsumerMessage,
  type ConsumerStream,
  type ProducerStream,
  type SessionState,
} from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { range } from '../helpers/publish.js';
import { until } from '../helpers/sidecar.js';
import { externalAuthTarget, externalTarget, uniqueTopic, useAuthTarget } from '../helpers/target.js';
import {
  handshakeLog,
  rotateTokenFile,
  tokensAB,
  topicPayloadsAsAdmin,
  waitForNoBacklog,
  waitUntilRefused,
} from '../helpers/token-rotation.js';

const target = useAuthTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tokenFileWith(token: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-token-rotation-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  await writeFile(file, `${token}\n`);
  return file;
}

async function proxy(): Promise<FaultProxy> {
  const started = await startFaultProxy(target.wsUrl);
  cleanups.push(() => started.close());
  return started;
}

/** The session states a stream went through, and a wait for its next `connected`. */
function statesOf(stream: ProducerStream | ConsumerStream): { all: SessionState[]; connects: () => number } {
  const all: SessionState[] = [];
  (stream as EventEmitter).on('state', (state: SessionState) => all.push(state));
  return { all, connects: () => all.filter((state) => state === 'connected').length };
}

/**
 * Writes `payloads` and resolves once the broker acknowledged every one (a write's callback only
 * says the message is in the producer's window; the 'ack' event says it is stored).
 */
async function produce(producer: ProducerStream, payloads: readonly string[]): Promise<void> {
  let acked = 0;
  const stored = new Promise<void>((resolve, reject) => {
    const onAck = (): void => {
      acked += 1;
      if (acked < payloads.length) return;
      producer.off('ack', onAck).off('error', reject);
      resolve();
    };
    producer.on('ack', onAck).once('error', reject);
  });
  for (const payload of payloads) producer.write(payload);
  await stored;
}

/** Resolves when `stream` connected, or with the error that ended it before it did. */
function connectedOrFailed(stream: ProducerStream): Promise<'connected' | Error> {
  return new Promise((resolve) => {
    stream.once('error', resolve);
    (stream as EventEmitter).on('state', (state: SessionState) => {
      if (state === 'connected') resolve('connected');
    });
  });
}

/**
 * A producer connected with a token A that expires soon after: A is minted to live
 * `lifetimeSeconds` right before the file is rotated to it and the producer connects. The handshake
 * must reach the server before A expires; on a machine too slow for that, the proxy shows A refused
 * (401) and a longer-lived A is tried, so the outcome does not depend on timing, only how long it
 * takes.
 */
async function producerOnShortLivedToken(
  client: PulsarWsClient,
  tokenFile: string,
  topic: string,
  faults: FaultProxy,
): Promise<{ producer: ProducerStream; a: string }> {
  for (let lifetimeSeconds = 2; lifetimeSeconds <= 32; lifetimeSeconds *= 2) {
    const a = await createToken(target.secretKey, 'admin', { expiresInSeconds: lifetimeSeconds });
    await rotateTokenFile(tokenFile, a);
    const requestsBefore = faults.requests.length;
    const producer = client.producer(topic);
    const outcome = await connectedOrFailed(producer);
    if (outcome === 'connected') return { producer, a };
    // Only "A had expired by the time the server saw it" is worth another try.
    if (!(outcome instanceof AuthError && outcome.status === 401)) throw outcome;
    expect(handshakeLog(faults.requests.slice(requestsBefore), { A: a })).toEqual(['A 401']);
  }
  throw new Error('no handshake reached the server within 32 s of its token being made');
}

interface LogLine {
  readonly msg?: string;
  readonly reason?: string;
}

/** Collects the consumer's payloads, acknowledging each one. */
function collect(consumer: ConsumerStream): string[] {
  const received: string[] = [];
  consumer.on('data', (message: ConsumerMessage) => {
    received.push(message.payload.toString());
    message.ack();
  });
  return received;
}

describe.skipIf(externalTarget && !externalAuthTarget)('token rotation (tokenFile, token function)', () => {
  it('the file is rotated from A to B: open sessions go on, a forced reconnect sends B and the server takes it; nothing lost or duplicated', async () => {
    const topic = uniqueTopic('rotate');
    const { a, b } = await tokensAB(target);
    const tokenFile = await tokenFileWith(a);
    const faults = await proxy();
    const client = new PulsarWsClient({
      url: faults.url,
      tokenFile,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    cleanups.push(() => client.close());
    const consumer = client.consumer(topic, 'rotation', { subscriptionInitialPosition: 'Earliest' });
    const producer = client.producer(topic);
    const consumerStates = statesOf(consumer);
    const producerStates = statesOf(producer);
    const received = collect(consumer);
    const names = { A: a, B: b };

    const first = range(200, 'a');
    await produce(producer, first);
    await until('the first batch consumed', () => Promise.resolve(received.length === 200));
    expect(handshakeLog(faults.requests, names)).toEqual(['A 101', 'A 101']);

    // A rotation does not touch the open sessions: they go on with what they connected with.
    await rotateTokenFile(tokenFile, b);
    const second = range(200, 'b');
    await produce(producer, second);
    await until('the second batch consumed after the rotation', () =>
      Promise.resolve(received.length === 400),
    );
    expect(handshakeLog(faults.requests, names)).toEqual(['A 101', 'A 101']);

    // Quiet point (every message acknowledged both ways), so the cut itself cannot cause a resend.
    await waitForNoBacklog(target, topic, 'rotation');
    const requestsBefore = faults.requests.length;
    faults.cut();
    await until('both reconnected', () =>
      Promise.resolve(consumerStates.connects() === 2 && producerStates.connects() === 2),
    );
    // Both reconnects read the file again: they sent B, and the server took it (a refusal the
    // server gives while it still holds a cut session, retried, would carry B too).
    const reconnects = handshakeLog(faults.requests.slice(requestsBefore), names);
    expect(reconnects.filter((handshake) => !handshake.startsWith('B '))).toEqual([]);
    expect(reconnects.filter((handshake) => handshake === 'B 101')).toHaveLength(2);

    const third = range(200, 'c');
    await produce(producer, third);
    await until('the third batch consumed', () => Promise.resolve(received.length === 600));
    await waitForNoBacklog(target, topic, 'rotation');
    expect(received).toEqual([...first, ...second, ...third]);
    expect(await topicPayloadsAsAdmin(target, topic)).toEqual([...first, ...second, ...third]);
    expect(consumerStates.all).toEqual(['connected', 'reconnecting', 'connected']);
    expect(producerStates.all).toEqual(['connected', 'reconnecting', 'connected']);
  }, 60_000);

  it('a session outlives its token A; once A expired, a reconnect with A is refused (401, AuthError) and a connect with B is taken', async () => {
    const topic = uniqueTopic('rotate-expiry');
    const tokenFile = await tokenFileWith(target.adminToken);
    const faults = await proxy();
    const client = new PulsarWsClient({
      url: faults.url,
      tokenFile,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    cleanups.push(() => client.close());
    const { producer, a } = await producerOnShortLivedToken(client, tokenFile, topic, faults);
    await produce(producer, ['one']);

    // A expired (the server says so to a fresh handshake); the session opened with it goes on.
    await waitUntilRefused(target, `${topic}-probe`, a);
    await produce(producer, ['two']);

    // The file still holds A: the reconnect after a cut sends A and is refused, for good.
    const requestsBefore = faults.requests.length;
    const failed = new Promise<unknown>((resolve) => producer.once('error', resolve));
    faults.cut();
    const error = await failed;
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).status).toBe(401);
    expect(handshakeLog(faults.requests.slice(requestsBefore), { A: a })).toEqual(['A 401']);

    // Rotated to B: the next stream of the same client connects with B.
    const { b } = await tokensAB(target);
    await rotateTokenFile(tokenFile, b);
    const next = client.producer(topic);
    await produce(next, ['three']);
    expect(handshakeLog(faults.requests.slice(requestsBefore), { A: a, B: b })).toEqual(['A 401', 'B 101']);
    expect(await topicPayloadsAsAdmin(target, topic)).toEqual(['one', 'two', 'three']);
  }, 60_000);

  it('a token function is called again for every connection: a reconnect uses what it returns then', async () => {
    const topic = uniqueTopic('rotate-fn');
    const { a, b } = await tokensAB(target);
    const handed: string[] = [];
    let current = a;
    const faults = await proxy();
    const client = new PulsarWsClient({
      url: faults.url,
      token: () => {
        handed.push(current);
        return Promise.resolve(current);
      },
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    cleanups.push(() => client.close());
    const producer = client.producer(topic);
    const states = statesOf(producer);
    await produce(producer, ['one']);
    current = b;
    faults.cut();
    await until('reconnected', () => Promise.resolve(states.connects() === 2));
    await produce(producer, ['two']);
    expect(handed).toEqual([a, b]);
    expect(handshakeLog(faults.requests, { A: a, B: b })).toEqual(['A 101', 'B 101']);
    expect(await topicPayloadsAsAdmin(target, topic)).toEqual(['one', 'two']);
  }, 60_000);

  it('a reconnect that cannot read the token file is logged naming the file and retried until it is back', async () => {
    const topic = uniqueTopic('rotate-missing');
    const { b } = await tokensAB(target);
    const tokenFile = await tokenFileWith(target.adminToken);
    const faults = await proxy();
    const lines: LogLine[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          for (const line of chunk.toString().split('\n').filter(Boolean))
            lines.push(JSON.parse(line) as LogLine);
          callback();
        },
      }),
    );
    const client = new PulsarWsClient({
      url: faults.url,
      tokenFile,
      logger,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    cleanups.push(() => client.close());
    const producer = client.producer(topic);
    const states = statesOf(producer);
    await produce(producer, ['before']);

    await rename(tokenFile, `${tokenFile}.away`);
    faults.cut();
    const failures = () =>
      lines.filter(
        (line) => line.msg?.startsWith('connect failed') === true && line.reason?.includes(tokenFile),
      );
    await until('failed reads logged, naming the file', () => Promise.resolve(failures().length >= 3));
    expect(failures()[0]?.reason).toMatch(/^cannot read the token file .*ENOENT/);
    expect(states.all.at(-1)).toBe('reconnecting');

    // An empty file is refused the same way, naming the file.
    await writeFile(tokenFile, '\n');
    await until('the empty file logged', () =>
      Promise.resolve(lines.some((line) => line.reason === `the token file ${tokenFile} is empty`)),
    );

    await rotateTokenFile(tokenFile, b);
    await until('reconnected with the new file', () => Promise.resolve(states.connects() === 2));
    await produce(producer, ['after']);
    expect(await topicPayloadsAsAdmin(target, topic)).toEqual(['before', 'after']);
    expect(JSON.stringify(lines)).not.toContain(b);
  }, 60_000);
});

/**
 * The session under network and server faults: a silent path, a server that hangs in its handshake,
 * nothing listening, a server that refuses every handshake (sockets must not leak), and close()
 * called by several callers at once.
 */
import { readdirSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WsSession, type SessionOptions } from '../../src/client/session.js';
import { ConnectError, TimeoutError, type PulsarWsError } from '../../src/errors.js';
import { useEmbeddedBrokers } from '../helpers/embedded.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { deadPort } from '../helpers/ports.js';

const startBroker = useEmbeddedBrokers();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// Shared: a reconnect is not refused while the server still holds the frozen connection's consumer.
const consumerPath =
  '/ws/v2/consumer/persistent/public/default/faults/sub?pullMode=true&subscriptionType=Shared';

function open(options: SessionOptions): WsSession {
  const session = new WsSession(options);
  cleanups.push(() => session.close());
  return session;
}

async function proxyTo(url: string): Promise<FaultProxy> {
  const proxy = await startFaultProxy(url);
  cleanups.push(() => proxy.close());
  return proxy;
}

function openFileDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('WsSession faults', () => {
  it('a frozen path is noticed within pingIntervalMs + pongTimeoutMs and reconnected', async () => {
    const broker = await startBroker();
    const proxy = await proxyTo(broker.url);
    const session = open({
      url: `${proxy.url}${consumerPath}`,
      pingIntervalMs: 200,
      pongTimeoutMs: 300,
      reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    });
    await session.connect();
    const lost = new Promise<PulsarWsError | undefined>((resolve) =>
      session.on('state', (state, error) => {
        if (state === 'reconnecting') resolve(error);
      }),
    );
    const frozenAt = Date.now();
    proxy.freeze();
    const error = await lost;
    expect(error).toBeInstanceOf(ConnectError);
    expect(error?.message).toMatch(/silent: no pong or frame within 300 ms of a ping/);
    // The bound is 500 ms; allow a loaded machine its scheduling delays, far below "never".
    expect(Date.now() - frozenAt).toBeLessThan(5_000);
    await new Promise<void>((resolve) =>
      session.on('state', (state) => {
        if (state === 'connected') resolve();
      }),
    );
    expect(session.connectionId).toBe(2);
  });

  it('a server that hangs in the handshake: each attempt times out, the first connect fails after connectTimeoutMs', async () => {
    const broker = await startBroker();
    const proxy = await proxyTo(broker.url);
    proxy.freezeNew(true);
    const session = open({
      url: `${proxy.url}${consumerPath}`,
      handshakeTimeoutMs: 200,
      connectTimeoutMs: 1_000,
      reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    });
    const error = (await session.connect().catch((caught: unknown) => caught)) as ConnectError;
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.message).toMatch(
      /could not connect to ws:\/\/127\.0\.0\.1:\d+\/ws\/v2\/consumer.* within 1000 ms/,
    );
    expect(error.cause).toBeInstanceOf(TimeoutError);
    expect(proxy.connections).toBeGreaterThan(1);
    expect(session.state).toBe('closed');
  });

  it('a slow path (300 ms each way) is not mistaken for a silent one', async () => {
    const broker = await startBroker();
    const proxy = await proxyTo(broker.url);
    proxy.delay(300);
    const session = open({
      url: `${proxy.url}${consumerPath}`,
      pingIntervalMs: 200,
      pongTimeoutMs: 1_000,
      connectTimeoutMs: 10_000,
    });
    await session.connect();
    const states: string[] = [];
    session.on('state', (state) => states.push(state));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(states).toEqual([]);
    expect(session.state).toBe('connected');
  });

  it('a handshake slower than handshakeTimeoutMs times out and is retried until the bound', async () => {
    const broker = await startBroker();
    const proxy = await proxyTo(broker.url);
    proxy.delay(500);
    const session = open({
      url: `${proxy.url}${consumerPath}`,
      handshakeTimeoutMs: 300,
      connectTimeoutMs: 1_500,
      reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    });
    const error = (await session.connect().catch((caught: unknown) => caught)) as ConnectError;
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.cause).toBeInstanceOf(TimeoutError);
    expect((error.cause as Error).message).toMatch(/did not complete within \d+ ms/);
    // Once the path is fast enough again, connecting works.
    proxy.delay(0);
    const retry = open({ url: `${proxy.url}${consumerPath}`, handshakeTimeoutMs: 300 });
    await retry.connect();
    expect(retry.state).toBe('connected');
  });

  it('reconnect off and a hanging handshake: a ConnectError saying it gave up, the TimeoutError as cause', async () => {
    const broker = await startBroker();
    const proxy = await proxyTo(broker.url);
    proxy.freezeNew(true);
    const session = open({ url: `${proxy.url}${consumerPath}`, handshakeTimeoutMs: 200, reconnect: false });
    const error = (await session.connect().catch((caught: unknown) => caught)) as ConnectError;
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.message).toMatch(/could not connect to .* after 1 attempt/);
    expect(error.cause).toBeInstanceOf(TimeoutError);
  });

  it("the state is 'connected' before the first frame arrives and before send() works", async () => {
    const broker = await startBroker();
    const proxy = await proxyTo(broker.url);
    proxy.injectOnConnect('{"hello":1}');
    const session = open({ url: `${proxy.url}${consumerPath}` });
    const seen = new Promise<string>((resolve) => session.once('message', () => resolve(session.state)));
    expect(session.send('{}')).toBe(false);
    await session.connect();
    expect(await seen).toBe('connected');
  });

  it('a server that accepts and drops at once is not hammered: reconnects back off', async () => {
    const broker = await startBroker();
    const proxy = await proxyTo(broker.url);
    const session = open({
      url: `${proxy.url}${consumerPath}`,
      reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
    });
    await session.connect();
    // Every connection is cut as soon as it is made, for 3 s.
    const cutter = setInterval(() => proxy.cut(), 5);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    clearInterval(cutter);
    // Without backoff across flaps this would be hundreds of connections.
    expect(proxy.connections).toBeLessThan(40);
  });

  it('nothing listening: the first connect fails with a ConnectError naming the URL after the bound', async () => {
    const port = await deadPort();
    const session = open({ url: `ws://127.0.0.1:${port}${consumerPath}`, connectTimeoutMs: 800 });
    const started = Date.now();
    const error = (await session.connect().catch((caught: unknown) => caught)) as ConnectError;
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.message).toContain(`ws://127.0.0.1:${port}/ws/v2/consumer`);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
  });

  it('a refused handshake (409) is retried; a 404 is not', async () => {
    const server = createServer((_request, response) => response.end());
    let status = 409;
    server.on('upgrade', (_request, socket) => {
      // The client drops the connection once it read the refusal (a reset the server must not choke on).
      socket.on('error', () => undefined);
      socket.on('end', () => socket.end());
      socket.write(`HTTP/1.1 ${status} Refused\r\nContent-Length: 0\r\n\r\n`);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => closeServer(server));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}${consumerPath}`;
    const busy = open({ url, connectTimeoutMs: 300, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    const error = (await busy.connect().catch((caught: unknown) => caught)) as ConnectError;
    expect(error.status).toBe(409);
    status = 404;
    const missing = open({ url, connectTimeoutMs: 5_000 });
    const started = Date.now();
    const notFound = (await missing.connect().catch((caught: unknown) => caught)) as ConnectError;
    expect(notFound.status).toBe(404);
    expect(notFound.retryable).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('100 refused handshakes leak no socket or file descriptor', async () => {
    const server = createServer((_request, response) => response.end());
    server.on('upgrade', (_request, socket) => {
      // A body, as Pulsar's Jetty sends an HTML page with its refusals.
      const body = '<html><head><title>Error 500 Internal Server Error</title></head></html>';
      socket.write(
        `HTTP/1.1 500 Server Error\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      // Keep-alive: the server holds the connection until the client lets go of it (its FIN).
      socket.on('error', () => undefined);
      socket.on('end', () => socket.end());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => closeServer(server));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}${consumerPath}`;
    const before = openFileDescriptors();
    for (let i = 0; i < 100; i++) {
      const session = new WsSession({ url, reconnect: false });
      const error = (await session.connect().catch((caught: unknown) => caught)) as ConnectError;
      expect(error.status).toBe(500);
      expect(error.message).toContain('Internal Server Error');
    }
    // Sockets close asynchronously: give them a moment, then count on both sides.
    await waitFor(async () => (await connectionsOf(server)) === 0 && openFileDescriptors() <= before + 2);
    expect(await connectionsOf(server)).toBe(0);
    expect(openFileDescriptors()).toBeLessThanOrEqual(before + 2);
  });

  it('close() is idempotent: every caller resolves once the socket is closed', async () => {
    const broker = await startBroker();
    const session = open({ url: `${broker.url}${consumerPath}` });
    await session.connect();
    const states: string[] = [];
    session.on('state', (state) => states.push(state));
    const results = await Promise.all([session.close(), session.close(), session.close()]);
    expect(results).toHaveLength(3);
    expect(session.state).toBe('closed');
    expect(states).toEqual(['closed']);
    await session.close();
  });

  it('close() against a peer that never answers the close frame returns within a bound', async () => {
    const broker = await startBroker();
    const proxy = await proxyTo(broker.url);
    const session = open({ url: `${proxy.url}${consumerPath}`, pingIntervalMs: 0 });
    await session.connect();
    proxy.freeze();
    const started = Date.now();
    await session.close();
    expect(session.state).toBe('closed');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('close() during connection attempts ends them at once', async () => {
    const port = await deadPort();
    const session = open({
      url: `ws://127.0.0.1:${port}${consumerPath}`,
      connectTimeoutMs: Infinity,
      reconnect: { initialDelayMs: 1_000, maxDelayMs: 1_000 },
    });
    const connecting = session.connect().catch((caught: unknown) => caught);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await session.close();
    expect((await connecting) as Error).toMatchObject({ code: 'PWS_ERR_CLOSED' });
  });
});

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function connectionsOf(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

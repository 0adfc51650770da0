/**
 * The client's admin calls against real HTTP servers that misbehave: one that accepts and never
 * answers, one that answers 503 a few times, one not listening yet, one that serves no admin API
 * (404 pages, as a WebSocket service run on its own or a proxy), one that sends an endless body, and
 * a token provider that never gives a token. Each call is bounded by `handshakeTimeoutMs` per attempt
 * and `connectTimeoutMs` in all, retries what can change, and fails with an error naming the URL.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectError, PulsarWsClient, type PulsarWsClientOptions } from '../../src/index.js';
import { MAX_ADMIN_BODY_BYTES } from '../../src/client/admin.js';
import { deadPort } from '../helpers/ports.js';

const servers: Server[] = [];
const clients: PulsarWsClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** A real HTTP server answering with `handler`; resolves with its requests' paths as they come. */
async function serve(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
  port = 0,
): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((request, response) => {
    paths.push(request.url ?? '');
    handler(request, response);
  });
  servers.push(server);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

function client(url: string, options: Partial<PulsarWsClientOptions> = {}): PulsarWsClient {
  const made = new PulsarWsClient({
    url,
    handshakeTimeoutMs: 300,
    connectTimeoutMs: 5_000,
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
  clients.push(made);
  return made;
}

const stall = (): void => undefined;

describe('admin calls', () => {
  it('a server that accepts and never answers: each attempt times out, retried until connectTimeoutMs', async () => {
    const { url, paths } = await serve(stall);
    const error = await client(url, { connectTimeoutMs: 2_000 })
      .partitionCount('t')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as Error).message).toMatch(
      /the admin API at http:\/\/127\.0\.0\.1:\d+\/admin\/v2\/persistent\/public\/default\/t\/partitions did not answer within 2000 ms \(\d+ attempts .*did not answer within \d+ ms/,
    );
    expect(paths.length).toBeGreaterThanOrEqual(2);
  });

  it('a slow server answering 503 twice, then the count: retried, the count is returned', async () => {
    let calls = 0;
    const { url } = await serve((_request, response) => {
      calls++;
      if (calls <= 2)
        response.writeHead(503, { 'Content-Type': 'application/json' }).end('{"reason":"busy"}');
      else response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"partitions":3}');
    });
    expect(await client(url).partitionCount('t')).toBe(3);
    expect(calls).toBe(3);
  });

  it('a server not listening yet (connection refused): retried until it listens', async () => {
    const port = await deadPort();
    const counting = client(`ws://127.0.0.1:${port}`, { connectTimeoutMs: 30_000 }).partitionCount('t');
    // The first attempts are refused; the call keeps trying and gets the server's answer.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await serve((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"partitions":2}');
    }, port);
    expect(await counting).toBe(2);
  });

  it("a 404 that is not Pulsar's topic-not-found (no admin API there) fails, naming the URL, not 0 partitions", async () => {
    const { url, paths } = await serve((_request, response) => {
      response
        .writeHead(404, { 'Content-Type': 'text/html' })
        .end('<html><head><title>Error 404 Not Found</title></head><body>HTTP ERROR 404</body></html>');
    });
    const error = await client(url)
      .partitionCount('t')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).retryable).toBe(false);
    expect((error as Error).message).toMatch(
      /cannot tell how many partitions persistent:\/\/public\/default\/t has: http:\/\/127\.0\.0\.1:\d+\/admin\/v2\/persistent\/public\/default\/t\/partitions answered HTTP 404: Error 404 Not Found.*the admin API must be reachable on the WebSocket service's host and port/,
    );
    expect(paths).toHaveLength(1);
    // An effectively-once producer fails the same way instead of treating the topic as unpartitioned.
    const producer = client(url).producer('t', {
      effectivelyOnce: true,
      producerName: 'p',
      initialSequenceId: -1,
    });
    const [failure] = (await once(producer, 'error')) as [Error];
    expect(failure.message).toMatch(/the admin API must be reachable/);
  });

  it("Pulsar's own 404 for a topic that does not exist means 0 partitions", async () => {
    const { url } = await serve((_request, response) => {
      response
        .writeHead(404, { 'Content-Type': 'application/json' })
        .end('{"reason":"Topic persistent://public/default/t not found"}');
    });
    expect(await client(url).partitionCount('t')).toBe(0);
  });

  it('an answer larger than the bound fails at once, not retried', async () => {
    const { url, paths } = await serve((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const write = (): void => {
        while (!response.destroyed && response.write(chunk));
        if (!response.destroyed) response.once('drain', write);
      };
      write();
    });
    const error = await client(url)
      .partitionCount('t')
      .catch((caught: unknown) => caught);
    expect((error as Error).message).toContain(`a body over ${MAX_ADMIN_BODY_BYTES} bytes`);
    expect(paths).toHaveLength(1);
  });

  it('a token provider that never gives a token: each attempt is bounded, then the call fails', async () => {
    const { url, paths } = await serve((_request, response) => response.end('{"partitions":0}'));
    const error = await client(url, {
      token: () => new Promise<string>(() => undefined),
      connectTimeoutMs: 1_000,
    })
      .partitionCount('t')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as Error).message).toMatch(/the token provider did not give a token within \d+ ms/);
    expect(paths).toEqual([]);
  });

  it('a stopAtEnd reader waiting on an admin API that never answers closes at once when destroyed', async () => {
    const { url, paths } = await serve(stall);
    const reader = client(url, { connectTimeoutMs: Infinity }).reader('t', {
      startMessageId: 'earliest',
      stopAtEnd: true,
    });
    reader.on('error', () => undefined);
    while (paths.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    reader.destroy();
    await once(reader, 'close');
  });

  it('an effectively-once producer and a pattern consumer waiting on an admin API that never answers close at once when destroyed', async () => {
    const { url, paths } = await serve(stall);
    const made = client(url, { connectTimeoutMs: Infinity });
    const producer = made.producer('t', { effectivelyOnce: true, producerName: 'p', initialSequenceId: -1 });
    const consumer = made.consumer({ topicsPattern: 'public/default/t-.*' }, 'sub');
    producer.on('error', () => undefined);
    consumer.on('error', () => undefined);
    while (paths.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    producer.destroy();
    consumer.destroy();
    await Promise.all([once(producer, 'close'), once(consumer, 'close')]);
  });
});

/**
 * HTTP webhook source: an HTTP server whose POSTs become messages, as a `Readable` of `Tracked`
 * values for a producer. A raw body is one message; `application/x-ndjson` is one message per line.
 * Key and properties come from headers. The caller gets 200 with the message ids only after the
 * broker acknowledged every message of its request, so a 200 means stored.
 *
 * Refusals, each with a body that says what is wrong: 404 (path), 405 (method), 413 (body over
 * `maxBodyBytes`), 400 (malformed NDJSON, naming the line; empty body), 401 (missing or wrong shared
 * secret or HMAC signature), 429 + Retry-After (the bounded in-flight limit is full), 503 +
 * Retry-After (closing, or the pipeline failed). `close()` stops accepting and waits for the requests
 * in flight before ending the stream. Each answer is a `'response'` event with its status code.
 */
import { messagesOfRequest, storedIds } from './request-messages.js';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { InvalidArgumentError } from '../errors.js';
import type { ProducerMessageObject } from '../streams/producer-message.js';

export interface WebhookOptions {
  /** @default 0 (any free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** The path that accepts POSTs. @default '/' */
  readonly path?: string;
  /** Shared secret expected in `secretHeader`. */
  readonly secret?: string;
  /** @default 'x-webhook-secret' */
  readonly secretHeader?: string;
  /** HMAC-SHA256 key: `signatureHeader` must be `sha256=<hex of HMAC(body)>`. */
  readonly hmacSecret?: string;
  /** @default 'x-signature-256' */
  readonly signatureHeader?: string;
  /** @default 'x-message-key' */
  readonly keyHeader?: string;
  /** Headers `<prefix><name>: value` become property `name`. @default 'x-property-' */
  readonly propertyHeaderPrefix?: string;
  /** @default 1048576 */
  readonly maxBodyBytes?: number;
  /** Requests handled at once. @default 64 */
  readonly maxInFlight?: number;
  /** Requests waiting for a slot before 429s start. @default 256 */
  readonly maxQueued?: number;
  /** A request whose messages are not all acknowledged by then gets a 503. @default 30000 */
  readonly ackTimeoutMs?: number;
  readonly logger?: Logger;
}

class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

function reply(response: ServerResponse, status: number, body: unknown, retryAfterSeconds?: number): void {
  if (response.headersSent) return;
  response.writeHead(status, {
    'content-type': 'application/json',
    ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
  });
  response.end(JSON.stringify(body));
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class WebhookSource extends Readable {
  private readonly queue: PQueue;
  private readonly logger: Logger;
  private readonly waiting = new Set<(error: RequestError) => void>();
  private closing = false;

  private constructor(
    private readonly server: Server,
    private readonly options: WebhookOptions,
  ) {
    super({ objectMode: true, highWaterMark: 1024 });
    this.queue = new PQueue({ concurrency: options.maxInFlight ?? 64 });
    this.logger = options.logger ?? pino({ enabled: false });
    server.on('request', (request: IncomingMessage, response: ServerResponse) =>
      this.onRequest(request, response),
    );
  }

  /** Starts the server. @throws InvalidArgumentError for bad options; the listen error otherwise. */
  static async listen(options: WebhookOptions = {}): Promise<WebhookSource> {
    for (const name of ['maxBodyBytes', 'maxInFlight', 'ackTimeoutMs'] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw new InvalidArgumentError(`expected \`${name}\` to be a positive integer, got ${value}`);
      }
    }
    const server = createServer();
    const source = new WebhookSource(server, options);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return source;
  }

  /** e.g. `http://127.0.0.1:8090/` */
  get url(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `http://${address}:${port}${this.options.path ?? '/'}`;
  }

  override _read(): void {
    // Messages are pushed as requests come; the in-flight limit bounds how many wait here.
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    // Every answer, whatever its status, as a 'response' event (status code): for metrics.
    response.once('finish', () => this.emit('response', response.statusCode));
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== (this.options.path ?? '/')) {
      reply(response, 404, { error: `no webhook at ${url.pathname}; POST to ${this.options.path ?? '/'}` });
      request.resume();
      return;
    }
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      reply(response, 405, { error: `${request.method} is not allowed; use POST` });
      request.resume();
      return;
    }
    if (this.closing || this.destroyed) {
      reply(response, 503, { error: 'shutting down' }, 5);
      request.resume();
      return;
    }
    const limit = (this.options.maxInFlight ?? 64) + (this.options.maxQueued ?? 256);
    if (this.queue.pending + this.queue.size >= limit) {
      reply(response, 429, { error: `too many requests in flight (${limit}); retry later` }, 1);
      request.resume();
      return;
    }
    void this.queue.add(async () => {
      try {
        const ids = await this.handle(request);
        reply(response, 200, { messageIds: ids });
      } catch (error) {
        if (error instanceof RequestError) {
          reply(response, error.status, { error: error.message }, error.retryAfterSeconds);
          return;
        }
        this.logger.error({ err: error }, 'webhook request failed');
        reply(response, 500, { error: (error as Error).message });
      }
    });
  }

  private async readBody(request: IncomingMessage): Promise<Buffer> {
    const max = this.options.maxBodyBytes ?? 1024 * 1024;
    const declared = Number(request.headers['content-length'] ?? NaN);
    if (declared > max) {
      request.resume();
      throw new RequestError(413, `body of ${declared} bytes is over the ${max}-byte limit`);
    }
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > max) {
        request.resume();
        throw new RequestError(413, `body is over the ${max}-byte limit`);
      }
      parts.push(chunk);
    }
    return Buffer.concat(parts);
  }

  private authenticate(request: IncomingMessage, body: Buffer): void {
    const { secret, hmacSecret } = this.options;
    if (secret !== undefined) {
      const header = this.options.secretHeader ?? 'x-webhook-secret';
      const given = request.headers[header];
      if (typeof given !== 'string') throw new RequestError(401, `missing ${header} header`);
      if (!sameSecret(given, secret)) throw new RequestError(401, `wrong ${header}`);
    }
    if (hmacSecret !== undefined) {
      const header = this.options.signatureHeader ?? 'x-signature-256';
      const given = request.headers[header];
      if (typeof given !== 'string')
        throw new RequestError(401, `missing ${header} header (sha256=<hex HMAC of the body>)`);
      const expected = `sha256=${createHmac('sha256', hmacSecret).update(body).digest('hex')}`;
      if (!sameSecret(given, expected)) throw new RequestError(401, `${header} does not match the body`);
    }
  }

  private messagesOf(request: IncomingMessage, body: Buffer): ProducerMessageObject[] {
    return messagesOfRequest(
      request.headers,
      body,
      this.options,
      (status, reason) => new RequestError(status, reason),
    );
  }

  /** Publishes a request's messages; resolves with their ids once all are acknowledged. */
  private async handle(request: IncomingMessage): Promise<string[]> {
    const body = await this.readBody(request);
    this.authenticate(request, body);
    const messages = this.messagesOf(request, body);
    if (this.destroyed) throw new RequestError(503, 'the pipeline is down', 5);
    let fail: ((error: RequestError) => void) | undefined;
    const failed = new Promise<never>((_resolve, reject) => (fail = reject));
    const failRequest = (error: RequestError): void => fail?.(error);
    this.waiting.add(failRequest);
    const timer = setTimeout(
      () => failRequest(new RequestError(503, 'the broker did not acknowledge in time', 5)),
      this.options.ackTimeoutMs ?? 30_000,
    );
    try {
      return await Promise.race([storedIds(messages, (message) => this.push(message)), failed]);
    } finally {
      clearTimeout(timer);
      this.waiting.delete(failRequest);
    }
  }

  /**
   * Stops accepting requests, waits for those in flight, then ends the stream. Until those are done
   * the server still listens, answering new requests 503 with Retry-After rather than refusing
   * connections.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.queue.onIdle();
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.push(null);
    this.server.closeIdleConnections();
    await stopped;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    for (const fail of this.waiting)
      fail(new RequestError(503, 'the pipeline failed; nothing more was stored', 5));
    this.waiting.clear();
    this.server.close();
    // Connections go once the failed requests have their 503s.
    void this.queue.onIdle().then(() => this.server.closeAllConnections());
    callback(error);
  }
}

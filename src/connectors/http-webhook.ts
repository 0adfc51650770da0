/**
 * HTTP webhook source: an HTTP server whose POSTs become messages, as a `Readable` of `Tracked`
 * values for a producer. A raw body is one message; `application/x-ndjson` is one message per line.
 * Key and properties come from headers. The caller gets 200 only after the broker acknowledged every
 * message of its request, so a 200 means stored.
 *
 * Nothing is trusted: the shared secret, the presence and form of the HMAC signature, the path, the
 * method and the declared length are checked on the headers, and a request failing one is refused
 * without its body being read (the connection closes after the answer). The body is then read (at
 * most `maxBodyBytes`, within `bodyTimeoutMs`) with its HMAC computed as it arrives, and every
 * NDJSON line checked, before anything of it is published: no record of an unauthenticated or
 * malformed body reaches the topic.
 * The messages then stream into the producer a window at a time (`maxRequestMessagesInFlight` per
 * request, `maxMessagesInFlight` for the whole source), so memory is bounded by messages as well as
 * bytes.
 *
 * Refusals, each with a body that says what is wrong: 404 (path), 405 (method), 413 (body over
 * `maxBodyBytes`), 408 (the body did not arrive within `bodyTimeoutMs`), 400 (malformed NDJSON,
 * naming the line; empty body), 401 (missing or wrong shared secret or HMAC signature), 429 +
 * Retry-After (the bounded request queue is full; nothing stored), 503 + Retry-After (closing, the
 * pipeline failed, or no progress for `ackTimeoutMs`; part of the request may be stored), 502 (the
 * broker refused the producer's credentials: no Retry-After, a retry cannot help). A failed source
 * stops listening and gives every request it still holds that failure's answer before closing its
 * connection. `close()` stops accepting and waits for the requests in flight before ending the
 * stream. Each answer is a `'response'` event with its status code.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { InvalidArgumentError } from '../errors.js';
import type { ProducerMessageObject } from '../streams/producer-message.js';
import type { Tracked } from '../streams/tracked.js';
import { matchesSecret, secretDigest } from './constant-time.js';
import { continueIfExpected, HttpRefusal, refuse, replyJson, upstreamRefusal } from './http-replies.js';
import { boundRequestTimes, DEFAULT_BODY_TIMEOUT_MS } from './http-timeouts.js';
import { MessageWindow } from './message-window.js';
import {
  checkDeclaredLength,
  expectedSignature,
  readRequestBody,
  type ExpectedSignature,
} from './request-body.js';
import { messagesOfRequest } from './request-messages.js';
import { RequestPublication, type StoredMessages } from './request-publication.js';
import { wakeOrAbort } from './wake-or-abort.js';

/** Defaults of the bounds (documented in docs/connectors.md and the CLI's flags). */
export const WEBHOOK_DEFAULTS = {
  maxBodyBytes: 1024 * 1024,
  maxInFlight: 64,
  maxQueued: 256,
  maxMessagesInFlight: 10_000,
  maxRequestMessagesInFlight: 1000,
  ackTimeoutMs: 30_000,
  bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS,
} as const;

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
  /** Larger bodies get 413. A request being handled holds its body until answered. @default 1048576 */
  readonly maxBodyBytes?: number;
  /** Requests handled at once (their bodies read and published). @default 64 */
  readonly maxInFlight?: number;
  /** Requests waiting (their bodies unread) for a slot before 429s start. @default 256 */
  readonly maxQueued?: number;
  /** Messages of the whole source handed to the producer and not yet acknowledged. @default 10000 */
  readonly maxMessagesInFlight?: number;
  /** Messages of one request handed to the producer and not yet acknowledged. @default 1000 */
  readonly maxRequestMessagesInFlight?: number;
  /** A request that makes no progress (nothing acknowledged) for this long gets a 503. @default 30000 */
  readonly ackTimeoutMs?: number;
  /** A body not arrived whole this long after its request is handled gets 408. @default 30000 */
  readonly bodyTimeoutMs?: number;
  readonly logger?: Logger;
}

const POSITIVE_OPTIONS = [
  'maxBodyBytes',
  'maxInFlight',
  'ackTimeoutMs',
  'maxMessagesInFlight',
  'maxRequestMessagesInFlight',
  'bodyTimeoutMs',
] as const;

export class WebhookSource extends Readable {
  private readonly queue: PQueue;
  private readonly logger: Logger;
  private readonly window: MessageWindow;
  /** Requests being published, failed at once if the pipeline fails. Bounded by `maxInFlight`. */
  private readonly publishing = new Set<RequestPublication>();
  /** Requests waiting for the stream to want more (`_read`). Bounded by `maxInFlight`. */
  private readonly readWaiters = new Set<() => void>();
  /** The shared secret's digest: what a presented secret is compared with (see constant-time.ts). */
  private readonly secretDigest: Buffer | undefined;
  private closing = false;
  /**
   * Set once the pipeline failed: what every request still reaching the server is answered (502
   * when the broker refused the producer, so a caller is not told to retry what cannot succeed).
   */
  private failure: HttpRefusal | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: WebhookOptions,
  ) {
    super({ objectMode: true, highWaterMark: 1024 });
    this.queue = new PQueue({ concurrency: options.maxInFlight ?? WEBHOOK_DEFAULTS.maxInFlight });
    this.window = new MessageWindow(
      options.maxMessagesInFlight ?? WEBHOOK_DEFAULTS.maxMessagesInFlight,
      'maxMessagesInFlight',
    );
    this.logger = options.logger ?? pino({ enabled: false });
    this.secretDigest = options.secret === undefined ? undefined : secretDigest(options.secret);
    const onRequest = (request: IncomingMessage, response: ServerResponse): void =>
      this.onRequest(request, response);
    server.on('request', onRequest);
    // Without this listener Node answers `100 Continue` at once, inviting bodies that may be refused.
    server.on('checkContinue', onRequest);
  }

  /** Starts the server. @throws InvalidArgumentError for bad options; the listen error otherwise. */
  static async listen(options: WebhookOptions = {}): Promise<WebhookSource> {
    for (const name of POSITIVE_OPTIONS) {
      const value = options[name];
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw new InvalidArgumentError(`expected \`${name}\` to be a positive integer, got ${value}`);
      }
    }
    const { maxQueued } = options;
    if (maxQueued !== undefined && !(Number.isInteger(maxQueued) && maxQueued >= 0)) {
      throw new InvalidArgumentError(`expected \`maxQueued\` to be an integer >= 0, got ${maxQueued}`);
    }
    const server = createServer();
    boundRequestTimes(server, options.bodyTimeoutMs ?? WEBHOOK_DEFAULTS.bodyTimeoutMs);
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
    const host = address.includes(':') ? `[${address}]` : address;
    return `http://${host}:${port}${this.options.path ?? '/'}`;
  }

  /** Messages handed to the producer and not yet acknowledged, over every request. */
  get messagesInFlight(): number {
    return this.window.inFlight;
  }

  override _read(): void {
    for (const wake of this.readWaiters) wake();
    this.readWaiters.clear();
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    // Every answer, whatever its status, as a 'response' event (status code): for metrics.
    response.once('finish', () => this.emit('response', response.statusCode));
    let signature: ExpectedSignature | undefined;
    try {
      signature = this.admit(request);
    } catch (error) {
      refuse(request, response, error as HttpRefusal);
      return;
    }
    void this.queue.add(async () => {
      try {
        const stored = await this.handle(request, response, signature);
        replyJson(response, 200, stored);
      } catch (error) {
        if (error instanceof HttpRefusal) {
          refuse(request, response, error);
          return;
        }
        this.logger.error({ err: error }, 'webhook request failed');
        refuse(request, response, new HttpRefusal(500, (error as Error).message));
      }
    });
  }

  /**
   * Everything that can be checked on the headers alone, so that a request failing it is refused
   * before its body is read. @returns the signature the body must have, when HMAC is on.
   * @throws HttpRefusal
   */
  private admit(request: IncomingMessage): ExpectedSignature | undefined {
    const path = this.options.path ?? '/';
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname !== path) throw new HttpRefusal(404, `no webhook at ${pathname}; POST to ${path}`);
    if (request.method !== 'POST') {
      throw new HttpRefusal(405, `${request.method} is not allowed; use POST`, undefined, { allow: 'POST' });
    }
    const { hmacSecret } = this.options;
    if (this.secretDigest !== undefined) {
      const header = this.options.secretHeader ?? 'x-webhook-secret';
      const given = request.headers[header];
      if (typeof given !== 'string') throw new HttpRefusal(401, `missing ${header} header`);
      if (!matchesSecret(given, this.secretDigest)) throw new HttpRefusal(401, `wrong ${header}`);
    }
    const signatureHeader = this.options.signatureHeader ?? 'x-signature-256';
    const signature =
      hmacSecret === undefined
        ? undefined
        : expectedSignature(hmacSecret, signatureHeader, request.headers[signatureHeader]);
    checkDeclaredLength(request, this.options.maxBodyBytes ?? WEBHOOK_DEFAULTS.maxBodyBytes, 'maxBodyBytes');
    if (this.failure !== undefined) throw this.failure;
    if (this.closing || this.destroyed) throw new HttpRefusal(503, 'shutting down', 5);
    const limit =
      (this.options.maxInFlight ?? WEBHOOK_DEFAULTS.maxInFlight) +
      (this.options.maxQueued ?? WEBHOOK_DEFAULTS.maxQueued);
    if (this.queue.pending + this.queue.size >= limit) {
      throw new HttpRefusal(429, `too many requests in flight (${limit}); retry later`, 1);
    }
    return signature;
  }

  /** Reads, checks and publishes a request; resolves once all its messages are acknowledged. */
  private async handle(
    request: IncomingMessage,
    response: ServerResponse,
    signature: ExpectedSignature | undefined,
  ): Promise<StoredMessages> {
    continueIfExpected(request, response);
    const body = await readRequestBody(
      request,
      {
        maxBytes: this.options.maxBodyBytes ?? WEBHOOK_DEFAULTS.maxBodyBytes,
        maxBytesName: 'maxBodyBytes',
        timeoutMs: this.options.bodyTimeoutMs ?? WEBHOOK_DEFAULTS.bodyTimeoutMs,
        timeoutName: 'bodyTimeoutMs',
      },
      signature,
    );
    const messages = messagesOfRequest(request.headers, body, this.options);
    if (this.destroyed) throw this.failure ?? new HttpRefusal(503, 'the pipeline is down', 5);
    const publication = new RequestPublication(messages, {
      processWindow: this.window,
      requestMessages: this.options.maxRequestMessagesInFlight ?? WEBHOOK_DEFAULTS.maxRequestMessagesInFlight,
      stallTimeoutMs: this.options.ackTimeoutMs ?? WEBHOOK_DEFAULTS.ackTimeoutMs,
    });
    this.publishing.add(publication);
    try {
      return await publication.publish({
        write: (message: Tracked<ProducerMessageObject>) => this.push(message),
        writable: (signal) => this.wantsMore(signal),
      });
    } finally {
      this.publishing.delete(publication);
    }
  }

  /** Resolves when the stream asks for more (`_read`); rejects with `signal.reason` once it aborts. */
  private wantsMore(signal: AbortSignal): Promise<void> {
    return wakeOrAbort(signal, (wake) => {
      this.readWaiters.add(wake);
      return () => this.readWaiters.delete(wake);
    });
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
    const refusal =
      upstreamRefusal(error) ?? new HttpRefusal(503, 'the pipeline failed; nothing more was stored', 5);
    if (error !== null) this.failure = refusal;
    for (const publication of this.publishing) publication.abandon(refusal);
    this.publishing.clear();
    this.server.close();
    // Connections go once the failed requests have their answers. Only idle ones: a connection
    // whose request is still arriving gets the failure as its answer (see admit), where closing it
    // would reset it; its headers and body are bounded in time (boundRequestTimes).
    void this.queue.onIdle().then(() => this.server.closeIdleConnections());
    callback(error);
  }
}

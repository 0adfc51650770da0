/**
 * `POST /publish/{topic}` (off unless `http.publish`): the body published the way the webhook source
 * does it (a raw body is one message, `application/x-ndjson` one per line; key and properties from
 * `x-message-key` and `x-property-*` headers), answered 200 with the message ids once the broker
 * acknowledged them all. Producers are opened per topic on first use and kept (the least recently
 * opened goes past `maxProducers`). Requests at once are bounded (429 past it); 503 while draining.
 */
import { messagesOfRequest, storedIds } from '../connectors/request-messages.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { InvalidArgumentError } from '../errors.js';
import {
  PulsarWsClient,
  type ProducerMessageObject,
  type ProducerStream,
  type PulsarWsClientOptions,
} from '../index.js';

export interface PublisherOptions {
  readonly client: Omit<PulsarWsClientOptions, 'logger'>;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  /** Requests handled at once; more get 429. @default 64 */
  readonly maxInFlight?: number;
  /** Producers kept open. @default 64 */
  readonly maxProducers?: number;
  /** A request not acknowledged by then gets 503. @default 30000 */
  readonly ackTimeoutMs?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export function replyJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  retryAfterSeconds?: number,
): void {
  if (response.headersSent) return;
  response.writeHead(status, {
    'content-type': 'application/json',
    ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
  });
  response.end(`${JSON.stringify(body)}\n`);
}

async function readBody(request: IncomingMessage, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      request.resume();
      throw new HttpError(413, `body is over the ${max}-byte limit (http.publishMaxBodyBytes)`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

function messagesOf(request: IncomingMessage, body: Buffer): ProducerMessageObject[] {
  return messagesOfRequest(request.headers, body, {}, (status, reason) => new HttpError(status, reason));
}

export class HttpPublisher {
  private readonly client: PulsarWsClient;
  private readonly producers = new Map<string, ProducerStream>();
  private active = 0;
  private draining = false;
  private idle: (() => void) | undefined;

  constructor(private readonly options: PublisherOptions) {
    this.client = new PulsarWsClient({ ...options.client, logger: options.logger });
  }

  /** Handles `POST /publish/{topic}` for `topic` (already decoded from the path). */
  async handle(request: IncomingMessage, response: ServerResponse, topic: string): Promise<void> {
    if (this.draining) {
      request.resume();
      replyJson(response, 503, { error: 'shutting down' }, 5);
      return;
    }
    const limit = this.options.maxInFlight ?? 64;
    if (this.active >= limit) {
      request.resume();
      replyJson(response, 429, { error: `too many publish requests in flight (${limit}); retry later` }, 1);
      return;
    }
    this.active += 1;
    try {
      const ids = await this.publish(request, topic);
      replyJson(response, 200, { messageIds: ids });
    } catch (error) {
      if (error instanceof HttpError) {
        replyJson(response, error.status, { error: error.message }, error.retryAfterSeconds);
      } else if (error instanceof InvalidArgumentError) {
        replyJson(response, 400, { error: error.message });
      } else {
        this.options.logger.error({ err: error, topic }, 'publish request failed');
        replyJson(response, 500, { error: (error as Error).message });
      }
    } finally {
      this.active -= 1;
      if (this.active === 0) this.idle?.();
    }
  }

  private producer(topic: string): ProducerStream {
    const existing = this.producers.get(topic);
    if (existing !== undefined && !existing.destroyed && !existing.writableEnded) return existing;
    const producer = this.client.producer(topic);
    producer.on('error', (error: Error) =>
      this.options.logger.warn({ err: error, topic }, 'publish producer failed'),
    );
    producer.once('close', () => {
      if (this.producers.get(topic) === producer) this.producers.delete(topic);
    });
    this.producers.set(topic, producer);
    if (this.producers.size > (this.options.maxProducers ?? 64)) {
      const [oldest] = this.producers;
      // Ending waits for its acknowledgements, so requests still waiting on it are answered.
      if (oldest !== undefined) {
        this.producers.delete(oldest[0]);
        oldest[1].end();
      }
    }
    return producer;
  }

  private async publish(request: IncomingMessage, topic: string): Promise<string[]> {
    const body = await readBody(request, this.options.maxBodyBytes);
    const messages = messagesOf(request, body);
    const producer = this.producer(topic);
    let timer: NodeJS.Timeout | undefined;
    let onClose: (() => void) | undefined;
    const failed = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new HttpError(503, 'the broker did not acknowledge in time', 5)),
        this.options.ackTimeoutMs ?? 30_000,
      );
      onClose = () =>
        reject(new HttpError(503, `the producer for ${topic} failed; nothing more was stored`, 5));
      producer.once('close', onClose);
    });
    try {
      return await Promise.race([storedIds(messages, (message) => producer.write(message)), failed]);
    } finally {
      clearTimeout(timer);
      if (onClose !== undefined) producer.off('close', onClose);
    }
  }

  /** Refuses new requests, waits for those in flight (bounded by their ack timeout), closes the producers. */
  async close(): Promise<void> {
    this.draining = true;
    if (this.active > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    await Promise.all(
      [...this.producers.values()].map(
        (producer) => new Promise<void>((resolve) => producer.end(() => resolve())),
      ),
    ).catch(() => undefined);
    await this.client.close();
  }
}

/**
 * `POST /publish/{topic}` (off unless `publish.enabled`): the body published the way the webhook
 * source does it (a raw body is one message, `application/x-ndjson` one per line; key and properties
 * from `x-message-key` and `x-property-*` headers), answered 200 once the broker acknowledged every
 * message. What can be checked on the headers is checked before the body is read (method, bearer
 * token, topic, the topic allow-list, draining, requests at once, declared length), and a request
 * refused then has its connection closed unread. The body (at most `maxBodyBytes`, arrived within
 * `bodyTimeoutMs` or 408) is checked whole before anything is published, then streams into the
 * topic's producer a window at a time (`maxRequestMessagesInFlight` per request,
 * `maxMessagesInFlight` for the endpoint). Producers are
 * opened per topic on first use and kept (past `maxProducers`, the least recently opened one that no
 * request is publishing through is ended). A producer that fails fails the requests publishing
 * through it: 502 when the broker refused the sidecar's credentials for the topic (no Retry-After),
 * else 503 + Retry-After.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import {
  continueIfExpected,
  HttpRefusal,
  refuse,
  replyJson,
  upstreamRefusal,
} from '../connectors/http-replies.js';
import { DEFAULT_BODY_TIMEOUT_MS } from '../connectors/http-timeouts.js';
import { MessageWindow } from '../connectors/message-window.js';
import { checkDeclaredLength, readRequestBody } from '../connectors/request-body.js';
import { messagesOfRequest, type RequestMessages } from '../connectors/request-messages.js';
import { RequestPublication, type StoredMessages } from '../connectors/request-publication.js';
import { InvalidArgumentError } from '../errors.js';
import {
  PulsarWsClient,
  type ProducerMessageObject,
  type ProducerStream,
  type PulsarWsClientOptions,
} from '../index.js';
import { parseTopicName, TopicNameError } from '../protocol/index.js';
import type { Tracked } from '../streams/tracked.js';
import { wakeOrAbort } from '../connectors/wake-or-abort.js';
import type { BearerToken, TopicAllowList } from './publish-access.js';

export interface PublisherOptions {
  readonly client: Omit<PulsarWsClientOptions, 'logger'>;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  /** Requests handled at once; more get 429. @default 64 */
  readonly maxInFlight?: number;
  /** Messages of all requests handed to producers and not yet acknowledged. @default 10000 */
  readonly maxMessagesInFlight?: number;
  /** Messages of one request handed to its producer and not yet acknowledged. @default 1000 */
  readonly maxRequestMessagesInFlight?: number;
  /** Producers kept open. @default 64 */
  readonly maxProducers?: number;
  /** A request with no progress (nothing acknowledged) for this long gets 503. @default 30000 */
  readonly ackTimeoutMs?: number;
  /** A body not arrived whole this long after its request was admitted gets 408. @default 30000 */
  readonly bodyTimeoutMs?: number;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  readonly token?: BearerToken;
  /** When set, the only topics requests may publish to. */
  readonly topics?: TopicAllowList;
  /** Every answer's status, for the metrics. */
  readonly onResponse?: (status: number) => void;
}

/** Resolves on the producer's next 'drain'; rejects with `signal.reason` once it aborts. */
function drained(producer: ProducerStream, signal: AbortSignal): Promise<void> {
  return wakeOrAbort(signal, (wake) => {
    producer.once('drain', wake);
    return () => producer.off('drain', wake);
  });
}

export class HttpPublisher {
  private readonly client: PulsarWsClient;
  private readonly producers = new Map<string, ProducerStream>();
  /** Requests publishing through each topic's producer now (such a producer is not evicted). */
  private readonly users = new Map<string, number>();
  /**
   * Per producer, the requests with messages in it not yet acknowledged (answered or not): if it
   * fails, they are abandoned, which gives their room in the window back. Bounded by the window.
   */
  private readonly flights = new WeakMap<ProducerStream, Set<RequestPublication>>();
  private readonly window: MessageWindow;
  private active = 0;
  private draining = false;
  private idle: (() => void) | undefined;

  constructor(private readonly options: PublisherOptions) {
    this.client = new PulsarWsClient({ ...options.client, logger: options.logger });
    this.window = new MessageWindow(options.maxMessagesInFlight ?? 10_000, 'publish.maxMessagesInFlight');
  }

  /** How long a request's body may take to arrive once admitted (the listeners' timeouts follow it). */
  get bodyTimeoutMs(): number {
    return this.options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  }

  /** Handles `POST /publish/{topic}`; `encodedTopic` is the path after `/publish/`, still %-encoded. */
  async handle(request: IncomingMessage, response: ServerResponse, encodedTopic: string): Promise<void> {
    const { onResponse } = this.options;
    if (onResponse !== undefined) response.once('finish', () => onResponse(response.statusCode));
    let topic: string;
    try {
      topic = await this.admit(request, encodedTopic);
      // Checked and counted in one go (no await between), so the bound holds exactly.
      if (this.draining) throw new HttpRefusal(503, 'shutting down', 5);
      const limit = this.options.maxInFlight ?? 64;
      if (this.active >= limit) {
        throw new HttpRefusal(429, `too many publish requests in flight (${limit}); retry later`, 1);
      }
    } catch (error) {
      if (!(error instanceof HttpRefusal)) throw error;
      refuse(request, response, error);
      return;
    }
    this.active += 1;
    try {
      continueIfExpected(request, response);
      const stored = await this.publish(request, topic);
      replyJson(response, 200, stored);
    } catch (error) {
      if (error instanceof HttpRefusal) {
        refuse(request, response, error);
      } else if (error instanceof InvalidArgumentError) {
        refuse(request, response, new HttpRefusal(400, error.message));
      } else {
        this.options.logger.error({ err: error, topic }, 'publish request failed');
        refuse(request, response, new HttpRefusal(500, (error as Error).message));
      }
    } finally {
      this.active -= 1;
      if (this.active === 0) this.idle?.();
    }
  }

  /**
   * The checks made on the headers alone, before the body is read. @returns the topic's full name.
   * @throws HttpRefusal
   */
  private async admit(request: IncomingMessage, encodedTopic: string): Promise<string> {
    if (request.method !== 'POST') {
      throw new HttpRefusal(405, `${request.method} is not allowed; use POST`, undefined, { allow: 'POST' });
    }
    const { token, topics } = this.options;
    if (token !== undefined && !(await token.accepts(request.headers.authorization))) {
      throw new HttpRefusal(
        401,
        request.headers.authorization === undefined
          ? 'missing Authorization: Bearer <token> (publish.tokenFile)'
          : 'wrong bearer token',
        undefined,
        { 'www-authenticate': 'Bearer realm="pulsar-ws publish"' },
      );
    }
    let topic: string;
    try {
      topic = decodeURIComponent(encodedTopic);
    } catch {
      throw new HttpRefusal(400, `bad %-escape in the topic ${JSON.stringify(encodedTopic)}`);
    }
    let fullName: string;
    try {
      fullName = parseTopicName(topic).fullName;
    } catch (error) {
      if (!(error instanceof TopicNameError)) throw error;
      throw new HttpRefusal(400, error.message);
    }
    if (topics !== undefined && !topics.allows(fullName)) {
      throw new HttpRefusal(403, `publishing to ${fullName} is not allowed (publish.topics)`);
    }
    checkDeclaredLength(request, this.options.maxBodyBytes, 'publish.maxBodyBytes');
    return fullName;
  }

  private producer(topic: string): ProducerStream {
    const existing = this.producers.get(topic);
    if (existing !== undefined && !existing.destroyed && !existing.writableEnded) return existing;
    const producer = this.client.producer(topic);
    let failure: Error | undefined;
    producer.on('error', (error: Error) => {
      failure = error;
      this.options.logger.warn({ err: error, topic }, 'publish producer failed');
    });
    const flights = new Set<RequestPublication>();
    this.flights.set(producer, flights);
    producer.once('close', () => {
      if (this.producers.get(topic) === producer) this.producers.delete(topic);
      // A closed producer drops what it holds: those requests fail, and their room is free again.
      // Refused by the broker (this sidecar's credentials may not write the topic): 502, retrying
      // will not help; anything else may pass (503 + Retry-After).
      const refusal =
        upstreamRefusal(failure) ??
        new HttpRefusal(503, `the producer for ${topic} failed; nothing more was stored`, 5);
      for (const publication of flights) publication.abandon(refusal);
      flights.clear();
    });
    this.producers.set(topic, producer);
    this.evictIdleProducer();
    return producer;
  }

  /**
   * Past `maxProducers`, ends the least recently opened producer no request is publishing through
   * (ending waits for its acknowledgements). Busy ones are kept, so there are at most `maxProducers`
   * plus one per request in flight.
   */
  private evictIdleProducer(): void {
    if (this.producers.size <= (this.options.maxProducers ?? 64)) return;
    for (const [topic, producer] of this.producers) {
      if ((this.users.get(topic) ?? 0) > 0) continue;
      this.producers.delete(topic);
      producer.end();
      return;
    }
  }

  private async publish(request: IncomingMessage, topic: string): Promise<StoredMessages> {
    const body = await readRequestBody(request, {
      maxBytes: this.options.maxBodyBytes,
      maxBytesName: 'publish.maxBodyBytes',
      timeoutMs: this.bodyTimeoutMs,
      timeoutName: 'publish.bodyTimeout',
    });
    // Checked before a producer is opened: a bad body costs no connection to the broker.
    const messages = messagesOfRequest(request.headers, body, {});
    this.users.set(topic, (this.users.get(topic) ?? 0) + 1);
    try {
      return await this.publishTo(this.producer(topic), messages);
    } finally {
      const left = (this.users.get(topic) ?? 1) - 1;
      if (left === 0) this.users.delete(topic);
      else this.users.set(topic, left);
    }
  }

  private publishTo(producer: ProducerStream, messages: RequestMessages): Promise<StoredMessages> {
    const publication = new RequestPublication(messages, {
      processWindow: this.window,
      requestMessages: this.options.maxRequestMessagesInFlight ?? 1000,
      stallTimeoutMs: this.options.ackTimeoutMs ?? 30_000,
    });
    const flights = this.flights.get(producer);
    flights?.add(publication);
    void publication.settled.then(() => flights?.delete(publication));
    return publication.publish({
      write: (message: Tracked<ProducerMessageObject>) => producer.write(message),
      writable: (signal) => drained(producer, signal),
    });
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

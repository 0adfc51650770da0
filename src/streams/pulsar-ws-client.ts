/**
 * The public entry point: one object holding the connection settings, handing out producer
 * `Writable`s and consumer/reader `Readable`s, each on its own WebSocket session, and closing them
 * all at the end. What each stream is made of is in its factory (producer-factory.ts,
 * consumer-factory.ts, reader-factory.ts); the client keeps the sessions' settings and the open
 * streams.
 */
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { fetchPartitionCount } from '../client/admin.js';
import { resolveTopic } from '../client/endpoints.js';
import { WsSession } from '../client/session.js';
import { AbortError, ClosedError } from '../errors.js';
import {
  adminOptionsOf,
  resolveClientOptions,
  type ClientContext,
  type PulsarWsClientOptions,
} from './client-options.js';
import type { ConsumerOptions } from './consumer-options.js';
import { openConsumer } from './consumer-factory.js';
import type { ConsumerStream } from './consumer-stream.js';
import type { EffectivelyOnceProducerStream } from './effectively-once-producer.js';
import { EncryptingSession, type ClientSideEncryption } from './encryption-streams.js';
import type { MultiTopicConsumerStream } from './multi-topic-consumer.js';
import { openProducer, type ProducerOptions } from './producer-factory.js';
import type { ProducerStream } from './producer-stream.js';
import { openReader, type ReaderOptions } from './reader-factory.js';
import type { ReaderStream } from './reader-stream.js';
import type { TopicSelection } from './topic-selection.js';

export type { ConsumerOptions } from './consumer-options.js';
export type { PulsarWsClientOptions, StreamLifecycleOptions } from './client-options.js';
export type { ProducerOptions } from './producer-factory.js';
export type { ReaderOptions } from './reader-factory.js';

export class PulsarWsClient {
  private readonly options: PulsarWsClientOptions;
  private readonly logger: Logger;
  private readonly open = new Set<Readable | Writable>();
  private closed = false;
  /** What the stream factories get of the client. */
  private readonly context: ClientContext;

  constructor(options: PulsarWsClientOptions) {
    this.options = resolveClientOptions(options);
    this.logger = options.logger ?? pino({ enabled: false });
    this.context = {
      serviceUrl: this.options.url,
      admin: adminOptionsOf(this.options),
      logger: this.logger,
      session: (component, topic, url, encryption) => this.session(component, topic, url, encryption),
    };
  }

  private session(
    component: string,
    topic: string,
    url: string | (() => string),
    encryption?: ClientSideEncryption,
  ): WsSession {
    if (this.closed) throw new ClosedError('the client is closed');
    const { url: _serviceUrl, logger: _logger, ...connection } = this.options;
    const options = { ...connection, url, logger: this.logger.child({ component, topic }) };
    return encryption === undefined ? new WsSession(options) : new EncryptingSession(options, encryption);
  }

  private track<S extends Readable | Writable>(stream: S, signal: AbortSignal | undefined): S {
    this.open.add(stream);
    // 'close', not finished(): finished() listens for 'error', which would hide a stream's errors
    // from a caller who did not listen for them (Node throws unhandled 'error' events).
    stream.once('close', () => this.open.delete(stream));
    if (signal !== undefined) {
      const abort = (): void => {
        stream.destroy(new AbortError('the stream was aborted through its signal', { cause: signal.reason }));
      };
      if (signal.aborted) process.nextTick(abort);
      else {
        signal.addEventListener('abort', abort, { once: true });
        stream.once('close', () => signal.removeEventListener('abort', abort));
      }
    }
    return stream;
  }

  /**
   * A `Writable` (objectMode) of Buffers, strings or `{ payload, properties, key, ... }`; with
   * `effectivelyOnce`, an `EffectivelyOnceProducerStream` (one producer per partition on a
   * partitioned topic). A write's callback means the message entered the in-flight window, not
   * that it is stored: the `'ack'` event, `onAck` or a `Tracked` chunk's `written()` say that, and
   * `'finish'` comes only once every message is acknowledged.
   */
  producer(
    topic: string,
    options: ProducerOptions & { readonly effectivelyOnce: true },
  ): EffectivelyOnceProducerStream;
  producer(topic: string, options?: ProducerOptions & { readonly effectivelyOnce?: false }): ProducerStream;
  producer(topic: string, options?: ProducerOptions): ProducerStream | EffectivelyOnceProducerStream;
  producer(topic: string, options: ProducerOptions = {}): ProducerStream | EffectivelyOnceProducerStream {
    return this.track(openProducer(this.context, topic, options), options.signal);
  }

  /**
   * A `Readable` (objectMode) of messages with `ack()`/`nack()`, in pull mode: at most
   * `highWaterMark` messages are buffered or asked for. Each message carries its `topic` (a
   * partition's name for a partitioned topic). Several topics, or `{ topicsPattern }`, give one
   * stream merging a session per topic (see MultiTopicConsumerStream for how the window is split).
   */
  consumer(topic: string, subscription: string, options?: ConsumerOptions): ConsumerStream;
  consumer(
    topics: readonly string[] | { readonly topicsPattern: string },
    subscription: string,
    options?: ConsumerOptions,
  ): MultiTopicConsumerStream;
  consumer(
    topics: TopicSelection,
    subscription: string,
    options?: ConsumerOptions,
  ): ConsumerStream | MultiTopicConsumerStream;
  consumer(
    topics: TopicSelection,
    subscription: string,
    options: ConsumerOptions = {},
  ): ConsumerStream | MultiTopicConsumerStream {
    return this.track(openConsumer(this.context, topics, subscription, options), options.signal);
  }

  /**
   * A `Readable` (objectMode) of messages from `startMessageId` on (exclusive of a given id); each
   * message carries its `topic` (a partition's name for a partitioned topic). See `reader-parts.ts`
   * for when a partitioned topic is read one session per partition.
   */
  reader(topic: string, options: ReaderOptions = {}): ReaderStream {
    return this.track(openReader(this.context, topic, options), options.signal);
  }

  /**
   * How many partitions `topic` has (0: not partitioned, or not created yet), from the admin API on
   * the service's host, with the client's token and TLS.
   */
  async partitionCount(topic: string): Promise<number> {
    return fetchPartitionCount(this.options.url, resolveTopic(topic), this.context.admin);
  }

  /**
   * Destroys every stream still open and waits until they are closed. Nothing new is acknowledged,
   * except that a consumer keeps its session `closeGraceMs` for the acks of messages already handed
   * downstream; producers abandon what is not yet acknowledged.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.open].map(
        (stream) =>
          new Promise<void>((resolve) => {
            if (stream.closed) {
              resolve();
              return;
            }
            stream.once('close', () => resolve());
            stream.destroy();
          }),
      ),
    );
  }
}

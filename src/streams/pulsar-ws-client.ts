/**
 * The public entry point: one object holding the connection settings, handing out producer
 * `Writable`s and consumer/reader `Readable`s, each on its own WebSocket session, and closing them
 * all at the end.
 */
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { fetchNamespaceTopics, fetchPartitionCount } from '../client/admin.js';
import {
  producerUrl,
  readerUrl,
  resolveTopic,
  type ProducerParamOptions,
  type ReaderParamOptions,
} from '../client/endpoints.js';
import { resolveSessionTimings, WsSession, type SessionOptions } from '../client/session.js';
import { checkTokenOptions } from '../client/token.js';
import { AbortError, ClosedError, InvalidArgumentError } from '../errors.js';
import type { TopicName } from '../protocol/index.js';
import { checkDuration } from '../client/duration.js';
import { ACK_MODES, ConsumerStream, type AckMode } from './consumer-stream.js';
import { consumerPlan, type ConsumerOptions, type TopicConsumerOptions } from './consumer-options.js';
import { DEFAULT_PATTERN_DISCOVERY_PERIOD_MS, MultiTopicConsumerStream } from './multi-topic-consumer.js';
import { resolveTopicSelection, type TopicSelection } from './topic-selection.js';
import { ProducerStream, type ProducerAckEvent, type ProducerStreamOptions } from './producer-stream.js';
import {
  checkSequenceIds,
  EffectivelyOnceProducerStream,
  type ProducerLanes,
} from './effectively-once-producer.js';
import { ReaderStream, resolveReaderHighWaterMark } from './reader-stream.js';
import { checkReaderStart, readerParts, type ReaderStart } from './reader-parts.js';
import {
  ClientSideEncryption,
  DecryptingConsumerStream,
  EncryptingSession,
  type ProducerEncryptionOptions,
} from './encryption-streams.js';

export type { ConsumerOptions } from './consumer-options.js';

/**
 * The session options shared by every stream of the client: token (a string, a function, or a
 * `tokenFile` read again at every connection attempt), TLS, liveness (`pingIntervalMs`,
 * `pongTimeoutMs`), time bounds (`handshakeTimeoutMs`, `connectTimeoutMs`) and reconnection.
 */
export interface PulsarWsClientOptions extends Omit<SessionOptions, 'url' | 'logger'> {
  /** The WebSocket service, e.g. `ws://localhost:8080` or `wss://host:8443` (a path prefix is kept). */
  readonly url: string;
  /** A pino logger; each stream logs through a child (`component`, `topic`). @default silent */
  readonly logger?: Logger;
}

/** Options every stream takes. */
export interface StreamLifecycleOptions {
  /** Aborting it destroys the stream with an `AbortError` (a consumer then settles as on a clean stop). */
  readonly signal?: AbortSignal;
}

export interface ProducerOptions extends ProducerParamOptions, ProducerStreamOptions, StreamLifecycleOptions {
  /**
   * Effectively-once: resent messages keep their sequence ids, so a topic with deduplication drops
   * those it stored already. Needs a stable `producerName` and `initialSequenceId` (the input
   * position of the last message already published, e.g. -1 for a new input). On a partitioned
   * topic the client routes each message to its partition itself, and each partition numbers its
   * own messages: see `EffectivelyOnceProducerStream`.
   * @default false
   */
  readonly effectivelyOnce?: boolean;
  /**
   * Effectively-once on a partitioned topic: per partition, the sequence id of the last message
   * already published to it (the producer's `partitionSequenceIds` at the end of the run before).
   * Needed to resume (`initialSequenceId` ≥ 0); missing entries (partitions added since) start at
   * -1. Ignored for a non-partitioned topic.
   */
  readonly partitionSequenceIds?: readonly number[];
  /** Called with each message's id as the broker acknowledges it (also the stream's `'ack'` event). */
  readonly onAck?: (event: ProducerAckEvent) => void;
  /**
   * Client-side end-to-end encryption (Pulsar's PIP-290): each payload is compressed and encrypted here
   * for the named RSA public keys before it is sent; the server stores ciphertext it cannot read.
   * Not with `encryptionKeys` (server-side mode).
   */
  readonly encryption?: ProducerEncryptionOptions;
}

export interface ReaderOptions extends ReaderParamOptions, StreamLifecycleOptions {
  /**
   * 'earliest', 'latest', a message id, or a list of message ids (one per partition). A message id
   * names its partition: on a partitioned topic that partition starts after it, and partitions no
   * id names start at earliest. @default 'latest' (Pulsar's default)
   */
  readonly startMessageId?: ReaderStart;
  /** Messages buffered plus in transit, 1 to 1000. @default 100 */
  readonly highWaterMark?: number;
  /**
   * End the stream at the topic's last message as of the start (found through the admin API on the
   * service's host); on a partitioned topic, once every partition reached its own. @default false
   */
  readonly stopAtEnd?: boolean;
}

function resolveClientOptions(options: PulsarWsClientOptions): PulsarWsClientOptions {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new InvalidArgumentError(
      `expected \`url\` to be a ws:// or wss:// URL, got ${JSON.stringify(options.url)}`,
    );
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new InvalidArgumentError(
      `expected \`url\` to be a ws:// or wss:// URL, got ${JSON.stringify(options.url)}`,
    );
  }
  if (options.tokenTransport !== undefined && !['header', 'query'].includes(options.tokenTransport)) {
    throw new InvalidArgumentError(
      `expected \`tokenTransport\` to be 'header' or 'query', got ${JSON.stringify(options.tokenTransport)}`,
    );
  }
  checkTokenOptions(options);
  // Checked here so that a bad timing fails when the client is made, not when a stream connects.
  resolveSessionTimings(options);
  return options;
}

/** Option names each method knows; anything else is a typo that would otherwise be ignored. */
const KNOWN_OPTIONS = {
  producer: [
    'producerName',
    'initialSequenceId',
    'hashingScheme',
    'sendTimeoutMillis',
    'batchingEnabled',
    'batchingMaxMessages',
    'maxPendingMessages',
    'batchingMaxPublishDelay',
    'messageRoutingMode',
    'compressionType',
    'encryptionKeys',
    'highWaterMark',
    'maxInFlight',
    'maxFrameBytes',
    'finishTimeoutMs',
    'effectivelyOnce',
    'partitionSequenceIds',
    'onAck',
    'signal',
    'encryption',
  ],
  consumer: [
    'subscriptionType',
    'subscriptionMode',
    'subscriptionInitialPosition',
    'ackTimeoutMillis',
    'consumerName',
    'priorityLevel',
    'negativeAckRedeliveryDelay',
    'maxRedeliverCount',
    'deadLetterTopic',
    'cryptoFailureAction',
    'receiverQueueSize',
    'highWaterMark',
    'ackMode',
    'closeGraceMs',
    'signal',
    'decryption',
    'patternAutoDiscoveryPeriodMs',
  ],
  reader: ['readerName', 'cryptoFailureAction', 'startMessageId', 'highWaterMark', 'stopAtEnd', 'signal'],
} as const;

function checkKnown(kind: keyof typeof KNOWN_OPTIONS, options: object): void {
  const known: readonly string[] = KNOWN_OPTIONS[kind];
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const hint =
      name === 'pullMode'
        ? ' (consumers always run in pull mode)'
        : name === 'messageId'
          ? ' (use `startMessageId`)'
          : '';
    throw new InvalidArgumentError(`unknown ${kind} option \`${name}\`${hint}; known: ${known.join(', ')}`);
  }
}

export class PulsarWsClient {
  private readonly options: PulsarWsClientOptions;
  private readonly logger: Logger;
  private readonly open = new Set<Readable | Writable>();
  private closed = false;

  constructor(options: PulsarWsClientOptions) {
    this.options = resolveClientOptions(options);
    this.logger = options.logger ?? pino({ enabled: false });
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
   * partitioned topic).
   */
  producer(
    topic: string,
    options: ProducerOptions & { readonly effectivelyOnce: true },
  ): EffectivelyOnceProducerStream;
  producer(topic: string, options?: ProducerOptions & { readonly effectivelyOnce?: false }): ProducerStream;
  producer(topic: string, options?: ProducerOptions): ProducerStream | EffectivelyOnceProducerStream;
  producer(topic: string, options: ProducerOptions = {}): ProducerStream | EffectivelyOnceProducerStream {
    checkKnown('producer', options);
    const name = resolveTopic(topic);
    const {
      highWaterMark,
      maxInFlight,
      maxFrameBytes,
      finishTimeoutMs,
      effectivelyOnce = false,
      partitionSequenceIds,
      onAck,
      signal,
      encryption: encryptionOptions,
      ...params
    } = options;
    if (encryptionOptions !== undefined && params.encryptionKeys !== undefined) {
      throw new InvalidArgumentError(
        'expected `encryption` (client-side) or `encryptionKeys` (server-side), not both',
      );
    }
    const encryption =
      encryptionOptions === undefined ? undefined : ClientSideEncryption.resolve(encryptionOptions);
    if (effectivelyOnce && (params.producerName === undefined || params.initialSequenceId === undefined)) {
      throw new InvalidArgumentError(
        'expected `producerName` and `initialSequenceId` with `effectivelyOnce`: deduplication is keyed by the name, and resent messages must keep their sequence ids',
      );
    }
    checkSequenceIds(effectivelyOnce, params.initialSequenceId, partitionSequenceIds);
    const streamOptions: ProducerStreamOptions = {
      ...(highWaterMark === undefined ? {} : { highWaterMark }),
      ...(maxInFlight === undefined ? {} : { maxInFlight }),
      ...(encryption === undefined
        ? maxFrameBytes === undefined
          ? {}
          : { maxFrameBytes }
        : { maxFrameBytes: ClientSideEncryption.frameBudget(maxFrameBytes) }),
      ...(finishTimeoutMs === undefined ? {} : { finishTimeoutMs }),
    };
    if (!effectivelyOnce) {
      const stream = this.producerStream(name, params, streamOptions, encryption, false);
      if (onAck !== undefined) stream.on('ack', onAck);
      return this.track(stream, signal);
    }
    const lanes: ProducerLanes = {
      // Non-persistent topics keep no deduplication state: nothing to route for.
      partitionCount: () =>
        name.domain === 'non-persistent' ? Promise.resolve(0) : this.partitionCount(name.fullName),
      open: (partition, initialSequenceId) =>
        this.producerStream(
          partition === undefined ? name : resolveTopic(`${name.fullName}-partition-${partition}`),
          { ...params, initialSequenceId },
          { ...streamOptions, initialSequenceId },
          encryption,
          true,
        ),
      warn: (message) => this.logger.warn({ topic: name.fullName }, message),
    };
    const stream = new EffectivelyOnceProducerStream(lanes, {
      topic: name.fullName,
      initialSequenceId: params.initialSequenceId ?? -1,
      ...(partitionSequenceIds === undefined ? {} : { partitionSequenceIds }),
      hashingScheme: params.hashingScheme ?? 'JavaStringHash',
      ...(highWaterMark === undefined ? {} : { highWaterMark }),
      ...(maxInFlight === undefined ? {} : { maxInFlight }),
      ...(finishTimeoutMs === undefined ? {} : { finishTimeoutMs }),
    });
    if (onAck !== undefined) stream.on('ack', onAck);
    return this.track(stream, signal);
  }

  /**
   * A producer stream on one topic (or partition); `resumable`: effectively-once, each reconnect
   * reopens with the sequence id before the first unacknowledged message.
   */
  private producerStream(
    name: TopicName,
    params: ProducerParamOptions,
    streamOptions: ProducerStreamOptions,
    encryption: ClientSideEncryption | undefined,
    resumable: boolean,
  ): ProducerStream {
    const initialUrl = producerUrl(this.options.url, name, params);
    // The URL is asked for before the stream exists (and after every reconnect).
    const created: { stream?: ProducerStream } = {};
    const plainUrl = resumable
      ? () => {
          const resume = created.stream?.resumeSequenceId;
          return resume === undefined
            ? initialUrl
            : producerUrl(this.options.url, name, { ...params, initialSequenceId: resume });
        }
      : initialUrl;
    // Client-side mode: each connection carries the current key map (the data key may have rotated).
    const url =
      encryption === undefined
        ? plainUrl
        : () => {
            const base = typeof plainUrl === 'string' ? plainUrl : plainUrl();
            const withKeys = new URL(base);
            withKeys.searchParams.set('encryptionKeys', encryption.encryptionKeysParam());
            return withKeys.toString();
          };
    const stream = new ProducerStream(
      this.session('producer', name.fullName, url, encryption),
      streamOptions,
    );
    created.stream = stream;
    return stream;
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
    checkKnown('consumer', options);
    const { signal, patternAutoDiscoveryPeriodMs, ...rest } = options;
    if (typeof topics === 'string') {
      return this.track(this.topicConsumer(resolveTopic(topics), subscription, rest), signal);
    }
    const selection = resolveTopicSelection(topics);
    const highWaterMark = rest.highWaterMark ?? 100;
    if (!Number.isInteger(highWaterMark) || highWaterMark < 1) {
      throw new InvalidArgumentError(
        `expected \`highWaterMark\` to be an integer >= 1, got ${highWaterMark}`,
      );
    }
    const ackMode = rest.ackMode ?? 'after-write';
    if (!ACK_MODES.includes(ackMode)) {
      throw new InvalidArgumentError(
        `expected \`ackMode\` to be one of ${ACK_MODES.join(', ')}, got ${JSON.stringify(ackMode)}`,
      );
    }
    if (rest.closeGraceMs !== undefined) checkDuration('closeGraceMs', rest.closeGraceMs, { zero: true });
    const partOptions = (window: number, partAckMode: AckMode) => ({
      ...rest,
      highWaterMark: window,
      ackMode: partAckMode,
    });
    // Checked here so that a bad option fails now, not when the first session opens.
    consumerPlan(this.options.url, resolveTopic('check'), subscription, partOptions(1, ackMode));
    const open = (topic: string, window: number, partAckMode: AckMode): ConsumerStream =>
      this.topicConsumer(resolveTopic(topic), subscription, partOptions(window, partAckMode));
    const { token, tokenFile, tls } = this.options;
    const stream = new MultiTopicConsumerStream({
      highWaterMark,
      ackMode,
      open,
      logger: this.logger.child({ component: 'multi-topic-consumer', subscription }),
      ...(selection.kind === 'topics'
        ? { topics: selection.topics.map((name) => name.fullName) }
        : {
            discovery: {
              pattern: selection.pattern,
              periodMs: checkDuration(
                'patternAutoDiscoveryPeriodMs',
                patternAutoDiscoveryPeriodMs ?? DEFAULT_PATTERN_DISCOVERY_PERIOD_MS,
              ),
              list: () =>
                fetchNamespaceTopics(this.options.url, 'persistent', selection.pattern.namespace, {
                  ...(token === undefined ? {} : { token }),
                  ...(tokenFile === undefined ? {} : { tokenFile }),
                  ...(tls === undefined ? {} : { tls }),
                }),
            },
          }),
    });
    return this.track(stream, signal);
  }

  /** One topic's consumer session as a stream (not tracked: the caller tracks what it returns). */
  private topicConsumer(
    name: TopicName,
    subscription: string,
    options: TopicConsumerOptions,
  ): ConsumerStream {
    const { url, streamOptions, decryptor } = consumerPlan(this.options.url, name, subscription, options);
    const session = this.session('consumer', name.fullName, url);
    return decryptor === undefined
      ? new ConsumerStream(session, streamOptions)
      : new DecryptingConsumerStream(session, streamOptions, decryptor);
  }

  /**
   * A `Readable` (objectMode) of messages from `startMessageId` on (exclusive of a given id); each
   * message carries its `topic` (a partition's name for a partitioned topic). See `reader-parts.ts`
   * for when a partitioned topic is read one session per partition.
   */
  reader(topic: string, options: ReaderOptions = {}): ReaderStream {
    checkKnown('reader', options);
    const name = resolveTopic(topic);
    const { startMessageId = 'latest', highWaterMark, stopAtEnd = false, signal, ...params } = options;
    const receiverQueueSize = resolveReaderHighWaterMark(highWaterMark);
    checkReaderStart(this.options.url, name, startMessageId);
    readerUrl(this.options.url, name, 'latest', { ...params, receiverQueueSize });
    const { token, tokenFile, tls } = this.options;
    const open = readerParts(
      {
        serviceUrl: this.options.url,
        admin: {
          ...(token === undefined ? {} : { token }),
          ...(tokenFile === undefined ? {} : { tokenFile }),
          ...(tls === undefined ? {} : { tls }),
        },
        params,
        highWaterMark: receiverQueueSize,
        stopAtEnd,
        session: (part, url) => this.session('reader', part.fullName, url),
      },
      name,
      startMessageId,
    );
    return this.track(new ReaderStream(open), signal);
  }

  /**
   * How many partitions `topic` has (0: not partitioned, or not created yet), from the admin API on
   * the service's host, with the client's token and TLS.
   */
  async partitionCount(topic: string): Promise<number> {
    const { token, tokenFile, tls } = this.options;
    return fetchPartitionCount(this.options.url, resolveTopic(topic), {
      ...(token === undefined ? {} : { token }),
      ...(tokenFile === undefined ? {} : { tokenFile }),
      ...(tls === undefined ? {} : { tls }),
    });
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

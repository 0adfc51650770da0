/**
 * The public entry point: one object holding the connection settings, handing out producer
 * `Writable`s and consumer/reader `Readable`s, each on its own WebSocket session, and closing them
 * all at the end.
 */
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { fetchLastMessageId } from '../client/admin.js';
import {
  consumerUrl,
  producerUrl,
  readerUrl,
  resolveTopic,
  type ConsumerParamOptions,
  type ProducerParamOptions,
  type ReaderParamOptions,
  type StartMessageId,
} from '../client/endpoints.js';
import { resolveSessionTimings, WsSession, type SessionOptions } from '../client/session.js';
import { AbortError, ClosedError, InvalidArgumentError } from '../errors.js';
import { compareMessageIds, decodeMessageId } from '../protocol/index.js';
import { ConsumerStream, type ConsumerStreamOptions } from './consumer-stream.js';
import { ProducerStream, type ProducerAckEvent, type ProducerStreamOptions } from './producer-stream.js';
import { ReaderStream, resolveReaderHighWaterMark } from './reader-stream.js';
import { resolveDecryptor, type DecryptMessagesOptions } from './decrypt-messages.js';
import {
  ClientSideEncryption,
  DecryptingConsumerStream,
  EncryptingSession,
  type ProducerEncryptionOptions,
} from './encryption-streams.js';

/**
 * The session options shared by every stream of the client: token, TLS, liveness (`pingIntervalMs`,
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
   * those it stored already. Needs a stable `producerName` and `initialSequenceId` (the sequence id
   * of the last input already published, e.g. -1 for a new input). Not for partitioned topics.
   * @default false
   */
  readonly effectivelyOnce?: boolean;
  /** Called with each message's id as the broker acknowledges it (also the stream's `'ack'` event). */
  readonly onAck?: (event: ProducerAckEvent) => void;
  /**
   * Client-side end-to-end encryption (Pulsar's PIP-290): each payload is compressed and encrypted here
   * for the named RSA public keys before it is sent; the server stores ciphertext it cannot read.
   * Not with `encryptionKeys` (server-side mode).
   */
  readonly encryption?: ProducerEncryptionOptions;
}

export interface ConsumerOptions extends ConsumerParamOptions, ConsumerStreamOptions, StreamLifecycleOptions {
  /**
   * Pulsar's WebSocket proxy consumes through an internal Java consumer that prefetches up to this
   * many messages from the broker, even in pull mode (docs/protocol.md §4.4). Those count as delivered and
   * unacknowledged on the broker, on top of the stream's `highWaterMark`: lower it (down to 1) when
   * the broker's count must track the stream closely. @default min(highWaterMark, 1000)
   */
  readonly receiverQueueSize?: number;
  /**
   * Decrypts end-to-end encrypted messages with these RSA private keys: asks the server for ciphertext
   * (`cryptoFailureAction=CONSUME`) and emits plaintext messages (batches split), as `decryptMessages`.
   */
  readonly decryption?: DecryptMessagesOptions;
}

export interface ReaderOptions extends ReaderParamOptions, StreamLifecycleOptions {
  /** @default 'latest' (Pulsar's default) */
  readonly startMessageId?: StartMessageId;
  /** Messages buffered plus in transit, 1 to 1000. @default 100 */
  readonly highWaterMark?: number;
  /**
   * End the stream at the topic's last message as of the start (found through the admin API on the
   * service's host). Not for partitioned topics. @default false
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

  /** A `Writable` (objectMode) of Buffers, strings or `{ payload, properties, key, ... }`. */
  producer(topic: string, options: ProducerOptions = {}): ProducerStream {
    checkKnown('producer', options);
    const name = resolveTopic(topic);
    const {
      highWaterMark,
      maxInFlight,
      maxFrameBytes,
      finishTimeoutMs,
      effectivelyOnce = false,
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
    const initialUrl = producerUrl(this.options.url, name, params);
    // The URL is asked for before the stream exists (and after every reconnect).
    const created: { stream?: ProducerStream } = {};
    const plainUrl = effectivelyOnce
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
    const stream = new ProducerStream(this.session('producer', name.fullName, url, encryption), {
      ...(highWaterMark === undefined ? {} : { highWaterMark }),
      ...(maxInFlight === undefined ? {} : { maxInFlight }),
      ...(encryption === undefined
        ? maxFrameBytes === undefined
          ? {}
          : { maxFrameBytes }
        : { maxFrameBytes: ClientSideEncryption.frameBudget(maxFrameBytes) }),
      ...(finishTimeoutMs === undefined ? {} : { finishTimeoutMs }),
      ...(effectivelyOnce ? { initialSequenceId: params.initialSequenceId } : {}),
    });
    created.stream = stream;
    if (onAck !== undefined) stream.on('ack', onAck);
    return this.track(stream, signal);
  }

  /**
   * A `Readable` (objectMode) of messages with `ack()`/`nack()`, in pull mode: at most
   * `highWaterMark` messages are buffered or asked for.
   */
  consumer(topic: string, subscription: string, options: ConsumerOptions = {}): ConsumerStream {
    checkKnown('consumer', options);
    const name = resolveTopic(topic);
    const { highWaterMark, ackMode, closeGraceMs, receiverQueueSize, decryption, signal, ...params } =
      options;
    const decryptor = decryption === undefined ? undefined : resolveDecryptor(decryption);
    if (decryptor !== undefined && (params.cryptoFailureAction ?? 'CONSUME') !== 'CONSUME') {
      throw new InvalidArgumentError(
        `\`decryption\` needs cryptoFailureAction CONSUME (the server must hand over ciphertext), got ${params.cryptoFailureAction}`,
      );
    }
    const url = consumerUrl(this.options.url, name, subscription, {
      ...params,
      ...(decryptor === undefined ? {} : { cryptoFailureAction: 'CONSUME' as const }),
      receiverQueueSize: receiverQueueSize ?? Math.min(highWaterMark ?? 100, 1000),
    });
    const streamOptions = {
      ...(highWaterMark === undefined ? {} : { highWaterMark }),
      ...(ackMode === undefined ? {} : { ackMode }),
      ...(closeGraceMs === undefined ? {} : { closeGraceMs }),
    };
    const session = this.session('consumer', name.fullName, url);
    const stream =
      decryptor === undefined
        ? new ConsumerStream(session, streamOptions)
        : new DecryptingConsumerStream(session, streamOptions, decryptor);
    return this.track(stream, signal);
  }

  /** A `Readable` (objectMode) of messages from `startMessageId` on (exclusive of a given id). */
  reader(topic: string, options: ReaderOptions = {}): ReaderStream {
    checkKnown('reader', options);
    const name = resolveTopic(topic);
    const { startMessageId = 'latest', highWaterMark, stopAtEnd = false, signal, ...params } = options;
    const receiverQueueSize = resolveReaderHighWaterMark(highWaterMark);
    const initialUrl = readerUrl(this.options.url, name, startMessageId, { ...params, receiverQueueSize });
    const created: { stream?: ReaderStream } = {};
    const url = (): string => {
      const resume = created.stream?.resumeFrom;
      return resume === undefined
        ? initialUrl
        : readerUrl(this.options.url, name, resume, { ...params, receiverQueueSize });
    };
    const { token, tls } = this.options;
    const until = async () => {
      const last = await fetchLastMessageId(this.options.url, name, {
        ...(token === undefined ? {} : { token }),
        ...(tls === undefined ? {} : { tls }),
      });
      if (last === null || startMessageId === 'latest') return null;
      if (startMessageId !== 'earliest' && compareMessageIds(decodeMessageId(startMessageId), last) >= 0)
        return null;
      return last;
    };
    const stream = new ReaderStream(this.session('reader', name.fullName, url), {
      highWaterMark: receiverQueueSize,
      ...(stopAtEnd ? { until } : {}),
    });
    created.stream = stream;
    return this.track(stream, signal);
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

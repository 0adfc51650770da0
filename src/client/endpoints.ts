/**
 * Endpoint URLs for producers, consumers and readers, built from options that carry Pulsar's query
 * parameter names. Every parameter is checked with the same parser the embedded broker uses (docs/protocol.md
 * §3.1, §4.1, §6.1), so a value Pulsar would refuse with an HTTP 400/500 is refused here, before any
 * connection, with an `InvalidArgumentError` that names the option.
 */
import { InvalidArgumentError } from '../errors.js';
import {
  decodeMessageId,
  endpointPath,
  parseConsumerParams,
  parseProducerParams,
  parseReaderParams,
  parseTopicName,
  type CompressionType,
  type CryptoFailureAction,
  type HashingScheme,
  type InitialPosition,
  type MessageRoutingMode,
  type SubscriptionMode,
  type SubscriptionType,
  type TopicName,
} from '../protocol/index.js';

/** The producer endpoint's query parameters (docs/protocol.md §3.1), by their Pulsar names. */
export interface ProducerParamOptions {
  /** A stable name; required for effectively-once (deduplication is keyed by it). */
  readonly producerName?: string;
  /** Sequence ids of this session's messages start after this one. */
  readonly initialSequenceId?: number;
  /** @default 'JavaStringHash' */
  readonly hashingScheme?: HashingScheme;
  /** Server-side send timeout in ms; 0 = none. @default 30000 (Pulsar's) */
  readonly sendTimeoutMillis?: number;
  /** @default false */
  readonly batchingEnabled?: boolean;
  readonly batchingMaxMessages?: number;
  readonly maxPendingMessages?: number;
  /** In ms, at least 1. */
  readonly batchingMaxPublishDelay?: number;
  /** Partitioned topics: messages without a key go to one partition or round-robin. @default 'SinglePartition' */
  readonly messageRoutingMode?: MessageRoutingMode;
  readonly compressionType?: CompressionType;
  /** Server-side encryption key names, comma-separated. */
  readonly encryptionKeys?: string;
}

/** The consumer endpoint's query parameters (docs/protocol.md §4.1), by their Pulsar names. `pullMode` is always on. */
export interface ConsumerParamOptions {
  /** @default 'Exclusive' */
  readonly subscriptionType?: SubscriptionType;
  /** @default 'Durable' */
  readonly subscriptionMode?: SubscriptionMode;
  /** Where a new subscription starts. @default 'Latest' */
  readonly subscriptionInitialPosition?: InitialPosition;
  /** Unacknowledged messages are redelivered after this many ms (>= 1000); 0 = never. @default 0 */
  readonly ackTimeoutMillis?: number;
  readonly consumerName?: string;
  /** Failover/Shared priority; lower is preferred. @default 0 */
  readonly priorityLevel?: number;
  /** Delay before a nacked message comes again, in ms. @default 60000 (Pulsar's) */
  readonly negativeAckRedeliveryDelay?: number;
  /** Deliveries after which a message goes to the dead-letter topic (> 0). */
  readonly maxRedeliverCount?: number;
  /** @default `{topic}-{subscription}-DLQ` when `maxRedeliverCount` is set */
  readonly deadLetterTopic?: string;
  readonly cryptoFailureAction?: CryptoFailureAction;
}

/** The reader endpoint's query parameters (docs/protocol.md §6.1), by their Pulsar names. */
export interface ReaderParamOptions {
  readonly readerName?: string;
  readonly cryptoFailureAction?: CryptoFailureAction;
}

/** Where a reader starts: the first message, the next message published, or after a message id. */
export type StartMessageId = 'earliest' | 'latest' | (string & {});

function toQuery(params: Readonly<Record<string, string | number | boolean | undefined>>): URLSearchParams {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) query.set(name, String(value));
  }
  return query;
}

/** Runs a protocol parser; its complaint becomes an `InvalidArgumentError`. */
function checked(kind: string, parse: () => unknown): void {
  try {
    parse();
  } catch (error) {
    throw new InvalidArgumentError(`invalid ${kind} option: ${(error as Error).message}`, { cause: error });
  }
}

/** A full or short topic name (`my-topic` → `persistent://public/default/my-topic`). */
export function resolveTopic(topic: string): TopicName {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new InvalidArgumentError(
      `expected \`topic\` to be a non-empty string, got ${JSON.stringify(topic)}`,
    );
  }
  try {
    return parseTopicName(topic);
  } catch (error) {
    throw new InvalidArgumentError(`invalid topic ${JSON.stringify(topic)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function endpointUrl(serviceUrl: string, path: string, query: URLSearchParams): string {
  const url = new URL(serviceUrl);
  const base = url.pathname.replace(/\/+$/, '');
  const search = query.toString();
  return `${url.protocol}//${url.host}${base}${path}${search === '' ? '' : `?${search}`}`;
}

/** The producer URL; `initialSequenceId` given separately because effectively-once moves it. */
export function producerUrl(serviceUrl: string, topic: TopicName, options: ProducerParamOptions): string {
  const query = toQuery({ ...options });
  checked('producer', () => parseProducerParams(query));
  return endpointUrl(serviceUrl, endpointPath('producer', topic), query);
}

export function consumerUrl(
  serviceUrl: string,
  topic: TopicName,
  subscription: string,
  options: ConsumerParamOptions & { readonly receiverQueueSize: number },
): string {
  if (typeof subscription !== 'string' || subscription.length === 0) {
    throw new InvalidArgumentError(
      `expected \`subscription\` to be a non-empty string, got ${JSON.stringify(subscription)}`,
    );
  }
  const query = toQuery({ ...options, pullMode: true });
  checked('consumer', () => parseConsumerParams(query));
  return endpointUrl(serviceUrl, endpointPath('consumer', topic, subscription), query);
}

export function readerUrl(
  serviceUrl: string,
  topic: TopicName,
  start: StartMessageId,
  options: ReaderParamOptions & { readonly receiverQueueSize: number },
): string {
  if (start !== 'earliest' && start !== 'latest') {
    checked('reader', () => {
      try {
        decodeMessageId(start);
      } catch (error) {
        throw new Error(
          `expected \`startMessageId\` to be 'earliest', 'latest' or a base64 message id, got ${JSON.stringify(start)} (${(error as Error).message})`,
          { cause: error },
        );
      }
    });
  }
  const query = toQuery({ ...options, messageId: start });
  checked('reader', () => parseReaderParams(query));
  return endpointUrl(serviceUrl, endpointPath('reader', topic), query);
}

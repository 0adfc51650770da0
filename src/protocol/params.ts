/**
 * Endpoint query parameters (docs/protocol.md §3.1, §4.1, §6.1), parsed and validated as Pulsar's handlers do.
 * Only the first value of a repeated key counts; unknown keys are ignored. The same parsers serve the
 * embedded broker (handshake) and the client (options checked before connecting).
 */
import { MAX_RECEIVER_QUEUE_SIZE } from './codes.js';

/**
 * A rejected parameter; `status` is the HTTP status Pulsar answers the handshake with. A 400's message
 * goes after Pulsar's `Invalid query params: ` prefix; a 500's message is the whole answer.
 */
export class ParamError extends Error {
  override readonly name = 'ParamError';
  constructor(
    message: string,
    readonly status: 400 | 500 = 400,
  ) {
    super(message);
  }
}

/** Read-only view of query parameters: `URLSearchParams` fits (its `get` returns the first value). */
export interface QueryParams {
  get(name: string): string | null;
}

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/** Java's `Integer.parseInt` / `Long.parseLong`, with the NumberFormatException wording. */
function parseJavaInteger(value: string, min: number, max: number): number {
  if (!/^[+-]?\d+$/.test(value)) throw new ParamError(`For input string: "${value}"`);
  const parsed = Number(value);
  if (parsed < min || parsed > max || !Number.isSafeInteger(parsed)) {
    throw new ParamError(`For input string: "${value}"${max === INT_MAX ? '' : ' (out of range)'}`);
  }
  return parsed;
}

function intParam(params: QueryParams, name: string): number | undefined {
  const value = params.get(name);
  return value === null ? undefined : parseJavaInteger(value, INT_MIN, INT_MAX);
}

function longParam(params: QueryParams, name: string): number | undefined {
  const value = params.get(name);
  return value === null
    ? undefined
    : parseJavaInteger(value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
}

function enumParam<T extends string>(params: QueryParams, name: string, values: readonly T[]): T | undefined {
  const value = params.get(name);
  if (value === null) return undefined;
  if (!(values as readonly string[]).includes(value)) throw new ParamError(`Invalid ${name} ${value}`);
  return value as T;
}

/** Java's `Boolean.parseBoolean`: only "true" (any case) is true; never an error. */
function boolParam(params: QueryParams, name: string): boolean | undefined {
  const value = params.get(name);
  return value === null ? undefined : value.toLowerCase() === 'true';
}

function stringParam(params: QueryParams, name: string): string | undefined {
  return params.get(name) ?? undefined;
}

function requireAtLeast(name: string, value: number | undefined, min: number, message?: string): void {
  if (value !== undefined && value < min)
    throw new ParamError(message ?? `${name} must be >= ${min}, got ${value}`);
}

export const HASHING_SCHEMES = ['JavaStringHash', 'Murmur3_32Hash'] as const;
export const MESSAGE_ROUTING_MODES = ['SinglePartition', 'RoundRobinPartition', 'CustomPartition'] as const;
export const COMPRESSION_TYPES = ['NONE', 'LZ4', 'ZLIB', 'ZSTD', 'SNAPPY'] as const;
export const SUBSCRIPTION_TYPES = ['Exclusive', 'Shared', 'Failover', 'Key_Shared'] as const;
export const SUBSCRIPTION_MODES = ['Durable', 'NonDurable'] as const;
export const INITIAL_POSITIONS = ['Latest', 'Earliest'] as const;
export const CRYPTO_FAILURE_ACTIONS = ['FAIL', 'DISCARD', 'CONSUME'] as const;

export type HashingScheme = (typeof HASHING_SCHEMES)[number];
export type MessageRoutingMode = (typeof MESSAGE_ROUTING_MODES)[number];
export type CompressionType = (typeof COMPRESSION_TYPES)[number];
export type SubscriptionType = (typeof SUBSCRIPTION_TYPES)[number];
export type SubscriptionMode = (typeof SUBSCRIPTION_MODES)[number];
export type InitialPosition = (typeof INITIAL_POSITIONS)[number];
export type CryptoFailureAction = (typeof CRYPTO_FAILURE_ACTIONS)[number];

export interface ProducerParams {
  producerName?: string;
  initialSequenceId?: number;
  hashingScheme: HashingScheme;
  sendTimeoutMillis?: number;
  batchingEnabled: boolean;
  batchingMaxMessages?: number;
  maxPendingMessages?: number;
  batchingMaxPublishDelay?: number;
  /** `CustomPartition` is accepted and ignored, as in Pulsar. */
  messageRoutingMode: Exclude<MessageRoutingMode, 'CustomPartition'>;
  compressionType?: CompressionType;
  encryptionKeys?: string;
}

/** @throws ParamError (HTTP 400) for a value Pulsar rejects. */
export function parseProducerParams(params: QueryParams): ProducerParams {
  const batchingEnabled = boolParam(params, 'batchingEnabled') ?? false;
  const routing = enumParam(params, 'messageRoutingMode', MESSAGE_ROUTING_MODES);
  const result: ProducerParams = {
    hashingScheme: enumParam(params, 'hashingScheme', HASHING_SCHEMES) ?? 'JavaStringHash',
    batchingEnabled,
    messageRoutingMode: routing === 'RoundRobinPartition' ? 'RoundRobinPartition' : 'SinglePartition',
  };
  const producerName = stringParam(params, 'producerName');
  if (producerName !== undefined) result.producerName = producerName;
  const initialSequenceId = longParam(params, 'initialSequenceId');
  if (initialSequenceId !== undefined) result.initialSequenceId = initialSequenceId;
  const sendTimeoutMillis = intParam(params, 'sendTimeoutMillis');
  requireAtLeast('sendTimeoutMillis', sendTimeoutMillis, 0, 'sendTimeout needs to be >= 0');
  if (sendTimeoutMillis !== undefined) result.sendTimeoutMillis = sendTimeoutMillis;
  // Pulsar 3.x+ reads the batching knobs only when batching is on.
  if (batchingEnabled) {
    const batchingMaxMessages = intParam(params, 'batchingMaxMessages');
    if (batchingMaxMessages !== undefined) result.batchingMaxMessages = batchingMaxMessages;
    const maxPendingMessages = intParam(params, 'maxPendingMessages');
    requireAtLeast('maxPendingMessages', maxPendingMessages, 0, 'maxPendingMessages needs to be >= 0');
    if (maxPendingMessages !== undefined) result.maxPendingMessages = maxPendingMessages;
    const batchingMaxPublishDelay = longParam(params, 'batchingMaxPublishDelay');
    requireAtLeast(
      'batchingMaxPublishDelay',
      batchingMaxPublishDelay,
      1,
      'configured value for batch delay must be at least 1ms',
    );
    if (batchingMaxPublishDelay !== undefined) result.batchingMaxPublishDelay = batchingMaxPublishDelay;
  }
  const compressionType = enumParam(params, 'compressionType', COMPRESSION_TYPES);
  if (compressionType !== undefined) result.compressionType = compressionType;
  const encryptionKeys = stringParam(params, 'encryptionKeys');
  if (encryptionKeys !== undefined) result.encryptionKeys = encryptionKeys;
  return result;
}

export interface ConsumerParams {
  subscriptionType: SubscriptionType;
  subscriptionMode: SubscriptionMode;
  subscriptionInitialPosition: InitialPosition;
  /** Already capped at 1000, as Pulsar does. */
  receiverQueueSize: number;
  /** 0 = disabled. */
  ackTimeoutMillis: number;
  consumerName?: string;
  priorityLevel?: number;
  negativeAckRedeliveryDelay: number;
  maxRedeliverCount?: number;
  deadLetterTopic?: string;
  pullMode: boolean;
  cryptoFailureAction?: CryptoFailureAction;
}

/** Pulsar's Java consumer default for `negativeAckRedeliveryDelay`, in ms. */
export const DEFAULT_NEGATIVE_ACK_REDELIVERY_DELAY = 60_000;

/** @throws ParamError (HTTP 400) for a value Pulsar rejects. */
export function parseConsumerParams(params: QueryParams): ConsumerParams {
  const receiverQueueSize = intParam(params, 'receiverQueueSize');
  requireAtLeast('receiverQueueSize', receiverQueueSize, 0, 'receiverQueueSize needs to be >= 0');
  const ackTimeoutMillis = longParam(params, 'ackTimeoutMillis') ?? 0;
  if (ackTimeoutMillis !== 0 && ackTimeoutMillis < 1000) {
    throw new ParamError('Ack timeout should be greater than 1000 ms');
  }
  const priorityLevel = intParam(params, 'priorityLevel');
  requireAtLeast('priorityLevel', priorityLevel, 0, 'priorityLevel needs to be >= 0');
  const negativeAckRedeliveryDelay = longParam(params, 'negativeAckRedeliveryDelay');
  requireAtLeast(
    'negativeAckRedeliveryDelay',
    negativeAckRedeliveryDelay,
    0,
    'redeliveryDelay needs to be >= 0',
  );
  const maxRedeliverCount = intParam(params, 'maxRedeliverCount');
  const deadLetterTopic = stringParam(params, 'deadLetterTopic');
  // Either key builds a DeadLetterPolicy, whose redelivery count (0 when absent) must be positive.
  if ((maxRedeliverCount !== undefined || deadLetterTopic !== undefined) && !((maxRedeliverCount ?? 0) > 0)) {
    throw new ParamError('MaxRedeliverCount must be > 0.');
  }
  const consumerName = stringParam(params, 'consumerName');
  // An invalid cryptoFailureAction is logged and ignored by Pulsar, never an error.
  const crypto = params.get('cryptoFailureAction');
  const cryptoFailureAction = CRYPTO_FAILURE_ACTIONS.find((action) => action === crypto);
  return {
    subscriptionType: enumParam(params, 'subscriptionType', SUBSCRIPTION_TYPES) ?? 'Exclusive',
    subscriptionMode: enumParam(params, 'subscriptionMode', SUBSCRIPTION_MODES) ?? 'Durable',
    subscriptionInitialPosition:
      enumParam(params, 'subscriptionInitialPosition', INITIAL_POSITIONS) ?? 'Latest',
    receiverQueueSize: Math.min(receiverQueueSize ?? MAX_RECEIVER_QUEUE_SIZE, MAX_RECEIVER_QUEUE_SIZE),
    ackTimeoutMillis,
    ...(consumerName === undefined ? {} : { consumerName }),
    ...(priorityLevel === undefined ? {} : { priorityLevel }),
    negativeAckRedeliveryDelay: negativeAckRedeliveryDelay ?? DEFAULT_NEGATIVE_ACK_REDELIVERY_DELAY,
    ...(maxRedeliverCount === undefined ? {} : { maxRedeliverCount }),
    ...(deadLetterTopic === undefined ? {} : { deadLetterTopic }),
    pullMode: boolParam(params, 'pullMode') ?? false,
    ...(cryptoFailureAction === undefined ? {} : { cryptoFailureAction }),
  };
}

export type ReaderStart = 'earliest' | 'latest' | { readonly messageId: string };

export interface ReaderParams {
  readerName?: string;
  /** Already capped at 1000. */
  receiverQueueSize: number;
  start: ReaderStart;
  cryptoFailureAction?: CryptoFailureAction;
}

/**
 * @throws ParamError with status 500: Pulsar parses reader parameters outside its try block.
 * The `messageId` itself is decoded by the caller (a bad id is a "Failed to create reader" 500).
 */
export function parseReaderParams(params: QueryParams): ReaderParams {
  let receiverQueueSize: number | undefined;
  try {
    receiverQueueSize = intParam(params, 'receiverQueueSize');
  } catch (error) {
    throw new ParamError(`java.lang.NumberFormatException: ${(error as Error).message}`, 500);
  }
  const rawStart = params.get('messageId')?.trim() ?? '';
  const start: ReaderStart =
    rawStart === '' || rawStart === 'latest'
      ? 'latest'
      : rawStart === 'earliest'
        ? 'earliest'
        : { messageId: rawStart };
  const readerName = stringParam(params, 'readerName');
  const crypto = params.get('cryptoFailureAction');
  const cryptoFailureAction = CRYPTO_FAILURE_ACTIONS.find((action) => action === crypto);
  if (receiverQueueSize !== undefined && receiverQueueSize < 0) {
    throw new ParamError('Failed to create reader: receiverQueueSize needs to be >= 0', 500);
  }
  return {
    ...(readerName === undefined ? {} : { readerName }),
    receiverQueueSize: Math.min(receiverQueueSize ?? MAX_RECEIVER_QUEUE_SIZE, MAX_RECEIVER_QUEUE_SIZE),
    start,
    ...(cryptoFailureAction === undefined ? {} : { cryptoFailureAction }),
  };
}

/** The push-mode window of docs/protocol.md §4.4: `min(receiverQueueSize, 1000)`, and 1 for 0. */
export function pushWindowSize(receiverQueueSize: number): number {
  return receiverQueueSize === 0 ? 1 : Math.min(receiverQueueSize, MAX_RECEIVER_QUEUE_SIZE);
}

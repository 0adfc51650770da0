/**
 * pulsar-ws-streams: the Apache Pulsar WebSocket API as Node.js streams. This entry is the client
 * only and loads nothing heavy: the embedded broker is `pulsar-ws-streams/broker`, the connectors
 * `pulsar-ws-streams/connectors` (test/package/lean-import.test.ts holds it to that).
 */
export {
  PulsarWsClient,
  type ConsumerOptions,
  type ProducerOptions,
  type PulsarWsClientOptions,
  type ReaderOptions,
} from './streams/pulsar-ws-client.js';
export { ProducerStream, type ProducerAckEvent } from './streams/producer-stream.js';
export { EffectivelyOnceProducerStream } from './streams/effectively-once-producer.js';
export { ConsumerStream, ACK_MODES, type AckMode } from './streams/consumer-stream.js';
export { ReaderStream } from './streams/reader-stream.js';
export type { ReaderStart } from './streams/reader-parts.js';
export {
  MultiTopicConsumerStream,
  DEFAULT_PATTERN_DISCOVERY_PERIOD_MS,
} from './streams/multi-topic-consumer.js';
export {
  baseTopicOf,
  MAX_CONSUMER_TOPICS,
  parseTopicPattern,
  type TopicPattern,
  type TopicSelection,
} from './streams/topic-selection.js';
// Also brings the typed-event declarations (declaration merging) into every importer's program.
export type {
  MessageStreamEvents,
  MultiTopicStreamEvents,
  ProducerStreamEvents,
  StateEventArgs,
} from './streams/stream-events.js';
export { isConsumerMessage, type ConsumerMessage } from './streams/consumer-message.js';
export type { ProducerMessage, ProducerMessageObject } from './streams/producer-message.js';
export { Tracked, settlementOf, type Settlement, type WriteReceipt } from './streams/tracked.js';
export { ackable, ackableBatch, ackableTransform, type AckableResult } from './streams/ackable.js';
export { ackingSink, type AckingSinkOptions } from './streams/acking-sink.js';
export type { SessionState, TlsOptions } from './client/session.js';
export type { TokenOptions, TokenProvider } from './client/token.js';
export type { BackoffOptions } from './client/backoff.js';
export type {
  ConsumerParamOptions,
  ProducerParamOptions,
  ReaderParamOptions,
  StartMessageId,
} from './client/endpoints.js';
export * from './errors.js';
export {
  compareMessageIds,
  decodeMessageId,
  encodeMessageId,
  parseTopicName,
  type MessageIdData,
  type TopicName,
} from './protocol/index.js';
// End-to-end encryption (client-side decryption and encryption, key files).
export {
  decryptMessages,
  DECRYPT_FAILURE_MODES,
  type DecryptFailureMode,
  type DecryptMessagesOptions,
} from './streams/decrypt-messages.js';
export type { ProducerEncryptionOptions } from './streams/encryption-streams.js';
export { createRsaKeyPair, writeRsaKeyPair } from './encryption/keys.js';
export type { CompressionType, EncryptionContext, EncryptionContextKey } from './protocol/index.js';

/**
 * Makes the client's producer streams: a plain `ProducerStream`, or with `effectivelyOnce` an
 * `EffectivelyOnceProducerStream` whose lanes (one per partition of a partitioned topic) are
 * producer streams that reopen with the sequence id before their first unacknowledged message.
 */
import { fetchPartitionCount } from '../client/admin.js';
import { producerUrl, resolveTopic, type ProducerParamOptions } from '../client/endpoints.js';
import { InvalidArgumentError } from '../errors.js';
import { partitionTopicName, type TopicName } from '../protocol/index.js';
import type { ClientContext, StreamLifecycleOptions } from './client-options.js';
import {
  checkSequenceIds,
  EffectivelyOnceProducerStream,
  type ProducerLanes,
} from './effectively-once-producer.js';
import { ClientSideEncryption, type ProducerEncryptionOptions } from './encryption-streams.js';
import { checkKnown } from './known-options.js';
import { ProducerStream, type ProducerAckEvent, type ProducerStreamOptions } from './producer-stream.js';

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
   * already published to it (the producer's `partitionSequenceIds` at the end of the run before),
   * one entry per partition the topic had then (-1: none went to it). Needed to resume
   * (`initialSequenceId` ≥ 0). A shorter array than the topic's partition count means partitions
   * were added since: those start at -1, with a warning (routing changed). Ignored for a
   * non-partitioned topic.
   */
  readonly partitionSequenceIds?: readonly number[];
  /**
   * Called with each message's id once the broker acknowledged (stored) it; also the stream's
   * `'ack'` event. A write's callback fires earlier, when the message enters the in-flight window.
   */
  readonly onAck?: (event: ProducerAckEvent) => void;
  /**
   * Client-side end-to-end encryption (Pulsar's PIP-290): each payload is compressed and encrypted here
   * for the named RSA public keys before it is sent; the server stores ciphertext it cannot read.
   * Not with `encryptionKeys` (server-side mode).
   */
  readonly encryption?: ProducerEncryptionOptions;
}

/**
 * The producer stream `client.producer(topic, options)` returns, checked and not yet tracked by the
 * client (`signal` is the client's to apply).
 */
export function openProducer(
  context: ClientContext,
  topic: string,
  options: ProducerOptions,
): ProducerStream | EffectivelyOnceProducerStream {
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
    signal: _signal,
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
    const stream = producerStream(context, name, params, streamOptions, encryption, false);
    if (onAck !== undefined) stream.on('ack', onAck);
    return stream;
  }
  const lanes: ProducerLanes = {
    // Non-persistent topics keep no deduplication state: nothing to route for.
    partitionCount: (signal) =>
      name.domain === 'non-persistent'
        ? Promise.resolve(0)
        : fetchPartitionCount(context.serviceUrl, name, { ...context.admin, signal }),
    open: (partition, initialSequenceId) =>
      producerStream(
        context,
        partition === undefined ? name : partitionTopicName(name, partition),
        { ...params, initialSequenceId },
        { ...streamOptions, initialSequenceId },
        encryption,
        true,
      ),
    warn: (message) => context.logger.warn({ topic: name.fullName }, message),
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
  return stream;
}

/**
 * A producer stream on one topic (or partition); `resumable`: effectively-once, each reconnect
 * reopens with the sequence id before the first unacknowledged message.
 */
function producerStream(
  context: ClientContext,
  name: TopicName,
  params: ProducerParamOptions,
  streamOptions: ProducerStreamOptions,
  encryption: ClientSideEncryption | undefined,
  resumable: boolean,
): ProducerStream {
  const initialUrl = producerUrl(context.serviceUrl, name, params);
  // The URL is asked for before the stream exists (and after every reconnect).
  const created: { stream?: ProducerStream } = {};
  const plainUrl = resumable
    ? () => {
        const resume = created.stream?.resumeSequenceId;
        return resume === undefined
          ? initialUrl
          : producerUrl(context.serviceUrl, name, { ...params, initialSequenceId: resume });
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
    context.session('producer', name.fullName, url, encryption),
    streamOptions,
  );
  created.stream = stream;
  return stream;
}

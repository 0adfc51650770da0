/**
 * Makes the client's consumer streams: one topic's `ConsumerStream`, or a `MultiTopicConsumerStream`
 * merging a session per topic of a list or of a pattern (whose topics are listed through the admin
 * API, again every discovery period).
 */
import { fetchNamespaceTopics } from '../client/admin.js';
import { resolveTopic } from '../client/endpoints.js';
import { checkDuration } from '../client/duration.js';
import { InvalidArgumentError } from '../errors.js';
import type { TopicName } from '../protocol/index.js';
import type { ClientContext } from './client-options.js';
import { consumerPlan, type ConsumerOptions, type TopicConsumerOptions } from './consumer-options.js';
import { ACK_MODES, ConsumerStream, type AckMode } from './consumer-stream.js';
import { DecryptingConsumerStream } from './encryption-streams.js';
import { checkKnown } from './known-options.js';
import { DEFAULT_PATTERN_DISCOVERY_PERIOD_MS, MultiTopicConsumerStream } from './multi-topic-consumer.js';
import { resolveTopicSelection, type TopicSelection } from './topic-selection.js';

/**
 * The consumer stream `client.consumer(topics, subscription, options)` returns, checked and not yet
 * tracked by the client (`signal` is the client's to apply).
 */
export function openConsumer(
  context: ClientContext,
  topics: TopicSelection,
  subscription: string,
  options: ConsumerOptions,
): ConsumerStream | MultiTopicConsumerStream {
  checkKnown('consumer', options);
  const { signal: _signal, patternAutoDiscoveryPeriodMs, ...rest } = options;
  if (typeof topics === 'string') return topicConsumer(context, resolveTopic(topics), subscription, rest);
  const selection = resolveTopicSelection(topics);
  const highWaterMark = rest.highWaterMark ?? 100;
  if (!Number.isInteger(highWaterMark) || highWaterMark < 1) {
    throw new InvalidArgumentError(`expected \`highWaterMark\` to be an integer >= 1, got ${highWaterMark}`);
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
  consumerPlan(context.serviceUrl, resolveTopic('check'), subscription, partOptions(1, ackMode));
  const open = (topic: string, window: number, partAckMode: AckMode): ConsumerStream =>
    topicConsumer(context, resolveTopic(topic), subscription, partOptions(window, partAckMode));
  return new MultiTopicConsumerStream({
    highWaterMark,
    ackMode,
    open,
    logger: context.logger.child({ component: 'multi-topic-consumer', subscription }),
    ...(selection.kind === 'topics'
      ? { topics: selection.topics.map((name) => name.fullName) }
      : {
          discovery: {
            pattern: selection.pattern,
            periodMs: checkDuration(
              'patternAutoDiscoveryPeriodMs',
              patternAutoDiscoveryPeriodMs ?? DEFAULT_PATTERN_DISCOVERY_PERIOD_MS,
            ),
            list: (signal) =>
              fetchNamespaceTopics(context.serviceUrl, 'persistent', selection.pattern.namespace, {
                ...context.admin,
                signal,
              }),
          },
        }),
  });
}

/** One topic's consumer session as a stream. */
function topicConsumer(
  context: ClientContext,
  name: TopicName,
  subscription: string,
  options: TopicConsumerOptions,
): ConsumerStream {
  const { url, streamOptions, decryptor } = consumerPlan(context.serviceUrl, name, subscription, options);
  const session = context.session('consumer', name.fullName, url);
  return decryptor === undefined
    ? new ConsumerStream(session, streamOptions)
    : new DecryptingConsumerStream(session, streamOptions, decryptor);
}

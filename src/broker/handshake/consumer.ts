/** Consumer handshakes: v1/v2 consumers (durable, NonDurable, non-persistent) and v3 multi-topic ones. */
import {
  formDecode,
  HandshakeMessagePrefix,
  isBlankName,
  parseConsumerParams,
  parseTopicName,
  type ConsumerParams,
  type TopicName,
} from '../../protocol/index.js';
import { deliveryCrypto } from '../crypto/delivery-crypto.js';
import { brokerKeyStore } from '../crypto/key-store.js';
import { ConsumerSession } from '../sessions/consumer-session.js';
import { NonPersistentConsumerSource, TopicConsumerSource } from '../sessions/sources.js';
import type { NonPersistentSubscription, NonPersistentTopic } from '../topics/non-persistent-topic.js';
import type { Subscription } from '../topics/subscription.js';
import type { Topic } from '../topics/topic.js';
import {
  authorize,
  checkNamespace,
  creationFailure,
  HandshakeError,
  openParts,
  parseQuery,
  type HandshakeContext,
  type PreparedSession,
  type SessionRequest,
} from './common.js';
import { deadLetterSink } from './dead-letter.js';
import { discoverTopics, type PatternSpec } from './pattern-discovery.js';

export async function prepareConsumer(
  request: SessionRequest,
  context: HandshakeContext,
): Promise<PreparedSession> {
  const { endpoint, query } = request;
  const params = parseQuery(parseConsumerParams, query);
  authorize(request, 'consume', context);
  if (endpoint.topic.domain === 'non-persistent')
    return prepareNonPersistentConsumer(request, params, context);
  return subscribe(request, params, [endpoint.topic], context);
}

/**
 * Attaches one consumer to the subscription on every topic named (each partition of a partitioned
 * one): a v2 consumer names one topic, a v3 multi-topic consumer several.
 */
async function subscribe(
  request: SessionRequest,
  params: ConsumerParams,
  topicNames: readonly TopicName[],
  context: HandshakeContext,
  pattern?: PatternSpec,
): Promise<PreparedSession> {
  const { endpoint } = request;
  const prefix = HandshakeMessagePrefix.consumer;
  const subscriptionName = endpoint.subscription ?? '';
  const logger = context.logger.child({
    component: 'consumer',
    topic: endpoint.topic.fullName,
    subscription: subscriptionName,
  });
  // Holds the consumer's place (same name and priority) until the socket is upgraded.
  const placeholder = consumerIdentity(params);
  const { id, name } = placeholder;
  const parts: { topic: Topic; subscription: Subscription; partition: number }[] = [];
  const abandon = (): void => parts.forEach(({ subscription }) => subscription.detach(placeholder));
  try {
    for (const topicName of topicNames) {
      const opened = await openParts(topicName, context);
      for (const [index, topic] of opened.topics.entries()) {
        const subscription =
          params.subscriptionMode === 'NonDurable'
            ? await topic.nonDurableSubscription(subscriptionName, params.subscriptionInitialPosition)
            : await topic.subscription(subscriptionName, params.subscriptionInitialPosition);
        subscription.attach(placeholder, params.subscriptionType);
        // A consumer of one topic that is a partition by its own name gets ids naming it, as in
        // Pulsar (a single-topic consumer); with several topics or a pattern, Pulsar's multi-topics
        // consumer leaves the partition out (Pulsar 4.0.7, observed).
        const ownPartition = pattern === undefined && topicNames.length === 1 ? topicName.partitionIndex : -1;
        parts.push({ topic, subscription, partition: opened.partitioned ? index : ownPartition });
      }
    }
  } catch (error) {
    abandon();
    creationFailure(prefix, error, context.logger);
  }
  const deadLetter =
    params.maxRedeliverCount === undefined
      ? undefined
      : deadLetterSink(endpoint.topic, subscriptionName, params.deadLetterTopic, context);
  return {
    endpoint,
    attach: (ws) => {
      const session = new ConsumerSession(
        id,
        name,
        ws,
        (consumer) => {
          const source = new TopicConsumerSource(parts, consumer, pattern !== undefined);
          if (pattern !== undefined) discoverTopics(pattern, source, consumer, context);
          return source;
        },
        params,
        deadLetter,
        logger,
        context.options.maxOutboundBytesPerConnection,
        deliveryCrypto(brokerKeyStore(context.options), params.cryptoFailureAction, true),
      );
      for (const { subscription } of parts) subscription.handOver(placeholder, session);
      return session;
    },
    abandon,
  };
}

/**
 * `/ws/v3/consumer/{subscription}?topics=a,b` or `?topicsPattern=<regex>` (docs/protocol.md §5): one consumer on
 * several topics. Exactly one of the two parameters (else 500, as Pulsar's constructor throws);
 * CONSUME is checked on every topic; a pattern matches the persistent topics of its namespace, those
 * created later included (see pattern-discovery.ts).
 */
export async function prepareMultiTopicConsumer(
  rawPath: string,
  query: URLSearchParams,
  role: string | undefined,
  context: HandshakeContext,
): Promise<PreparedSession> {
  const segments = rawPath.split('/');
  if (segments[3] !== 'consumer') throw new HandshakeError(404, `No endpoint at ${rawPath}`);
  const topicsParam = query.get('topics');
  const pattern = query.get('topicsPattern');
  if ((topicsParam === null) === (pattern === null)) {
    throw new HandshakeError(
      500,
      'java.lang.IllegalArgumentException: Should set topics or topicsPattern, and only one of them',
    );
  }
  let names: TopicName[];
  let nominal: TopicName;
  let matcher: RegExp | undefined;
  try {
    if (topicsParam !== null) {
      names = topicsParam.split(',').map((topic) => parseTopicName(topic.trim()));
      const [first] = names;
      if (first === undefined) throw new Error('no topic in topics');
      nominal = first;
    } else {
      nominal = parseTopicName(pattern ?? '');
      matcher = new RegExp(`^(?:${pattern ?? ''})$`);
      const existing = await context.topics.list('persistent', `${nominal.tenant}/${nominal.namespace}`);
      names = existing.filter((name) => matcher?.test(name) === true).map((name) => parseTopicName(name));
    }
  } catch (error) {
    throw new HandshakeError(500, `java.lang.IllegalArgumentException: ${(error as Error).message}`);
  }
  let subscription: string;
  try {
    subscription = formDecode(segments[4] ?? '');
  } catch (error) {
    throw new HandshakeError(400, `${HandshakeMessagePrefix.invalidParams}${(error as Error).message}`);
  }
  if (subscription === '') {
    throw new HandshakeError(400, `${HandshakeMessagePrefix.invalidParams}Empty subscription name`);
  }
  if (isBlankName(subscription)) {
    throw new HandshakeError(400, `${HandshakeMessagePrefix.invalidParams}subscriptionName cannot be blank`);
  }
  const request: SessionRequest = {
    endpoint: { kind: 'consumer', version: 'v3', topic: nominal, subscription },
    query,
    role,
  };
  const params = parseQuery(parseConsumerParams, query);
  for (const name of names) authorize(request, 'consume', context, name);
  const spec =
    matcher === undefined
      ? undefined
      : { namespace: `${nominal.tenant}/${nominal.namespace}`, matcher, subscription, params };
  return subscribe(request, params, names, context, spec);
}

let nextConsumerId = 1;

/** A consumer name for a consumer without one, in connection order. */
function consumerIdentity(params: ConsumerParams): { id: number; name: string; priorityLevel: number } {
  const id = nextConsumerId++;
  // Pulsar's client names unnamed consumers at random; a counter keeps ours in connection order.
  const name = params.consumerName ?? `consumer-${String(id).padStart(10, '0')}`;
  return { id, name, priorityLevel: params.priorityLevel ?? 0 };
}

function prepareNonPersistentConsumer(
  request: SessionRequest,
  params: ConsumerParams,
  context: HandshakeContext,
): PreparedSession {
  const { endpoint } = request;
  const subscriptionName = endpoint.subscription ?? '';
  const placeholder = consumerIdentity(params);
  let topic: NonPersistentTopic;
  let subscription: NonPersistentSubscription;
  try {
    checkNamespace(endpoint.topic, context);
    topic = context.topics.nonPersistent(endpoint.topic);
    subscription = topic.subscription(subscriptionName);
    subscription.attach(placeholder, params.subscriptionType, params.receiverQueueSize);
  } catch (error) {
    creationFailure(HandshakeMessagePrefix.consumer, error, context.logger);
  }
  const logger = context.logger.child({
    component: 'consumer',
    topic: endpoint.topic.fullName,
    subscription: subscriptionName,
  });
  return {
    endpoint,
    attach: (ws) => {
      const session = new ConsumerSession(
        placeholder.id,
        placeholder.name,
        ws,
        (consumer) => new NonPersistentConsumerSource(topic, subscription, consumer),
        params,
        undefined,
        logger,
        context.options.maxOutboundBytesPerConnection,
        deliveryCrypto(brokerKeyStore(context.options), params.cryptoFailureAction, true),
      );
      subscription.handOver(placeholder, session);
      return session;
    },
    abandon: () => subscription.detach(placeholder),
  };
}

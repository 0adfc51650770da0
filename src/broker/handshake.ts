/**
 * Validates a WebSocket upgrade and prepares its session before the `101` is sent, failing with the
 * HTTP statuses Pulsar uses (spec §2, §8.1). A prepared session holds its claims (producer name,
 * exclusive consumer slot) until it is attached to a socket or abandoned.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  decodeMessageId,
  HandshakeMessagePrefix,
  ParamError,
  parseConsumerParams,
  parseEndpointPath,
  parseProducerParams,
  parseReaderParams,
  formDecode,
  parseTopicName,
  partitionTopicName,
  type ConsumerParams,
  type ProducerParams,
  EndpointPathError,
  type EndpointPath,
  type TopicName,
} from '../protocol/index.js';
import { AuthenticationError, AuthorizationError, type AuthAction, type BrokerAuth } from './auth/index.js';
import { NamespaceNotFoundError, type NamespaceRegistry } from './namespaces.js';
import type { ResolvedBrokerOptions } from './options.js';
import { ConsumerSession, type DeadLetterSink } from './sessions/consumer-session.js';
import {
  NonPersistentConsumerSource,
  NonPersistentReaderSource,
  TopicConsumerSource,
  TopicReaderSource,
} from './sessions/sources.js';
import type { NonPersistentSubscription, NonPersistentTopic } from './topics/non-persistent-topic.js';
import { PartitionRouter } from './topics/partition-router.js';
import type { Subscription } from './topics/subscription.js';
import { ProducerSession, type PublishTarget } from './sessions/producer-session.js';
import { ReaderSession } from './sessions/reader-session.js';
import { ConsumerBusyError } from './topics/subscription.js';
import { ProducerBusyError, TopicTerminatedError, type Topic } from './topics/topic.js';
import { TopicNotFoundError, type TopicRegistry } from './topics/topic-registry.js';

/** A refused handshake: the HTTP status and message to answer with. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Session {
  start(): void;
  handleFrame(text: string): void;
  close(): void;
}

export interface PreparedSession {
  readonly endpoint: EndpointPath;
  /** Binds the session to the upgraded socket. */
  attach(ws: WebSocket): Session;
  /** Releases claims when the upgrade did not complete. */
  abandon(): void;
}

export interface HandshakeContext {
  readonly options: ResolvedBrokerOptions;
  readonly topics: TopicRegistry;
  readonly namespaces: NamespaceRegistry;
  /** Present when authentication and authorization are enabled. */
  readonly auth: BrokerAuth | undefined;
  readonly logger: Logger;
  nextProducerName(): string;
}

export async function prepareSession(
  request: IncomingMessage,
  context: HandshakeContext,
): Promise<PreparedSession> {
  const rawUrl = request.url ?? '/';
  const queryStart = rawUrl.indexOf('?');
  const rawPath = queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart);
  const query = new URLSearchParams(queryStart < 0 ? '' : rawUrl.slice(queryStart + 1));
  // Like the broker's HTTP authentication filter, authentication comes before anything else.
  const role = await authenticate(request, query, context);
  if (rawPath.startsWith('/ws/v3/')) return prepareMultiTopicConsumer(rawPath, query, role, context);
  let endpoint: EndpointPath;
  try {
    endpoint = parseEndpointPath(rawPath);
  } catch (error) {
    if (error instanceof EndpointPathError) throw new HandshakeError(error.status, error.message);
    throw error;
  }
  const session = { endpoint, query, role };
  switch (endpoint.kind) {
    case 'producer':
      return prepareProducer(session, context);
    case 'consumer':
      return prepareConsumer(session, context);
    case 'reader':
      return prepareReader(session, context);
  }
}

interface SessionRequest {
  readonly endpoint: EndpointPath;
  readonly query: URLSearchParams;
  /** The authenticated role, when auth is enabled. */
  readonly role: string | undefined;
}

async function authenticate(
  request: IncomingMessage,
  query: URLSearchParams,
  context: HandshakeContext,
): Promise<string | undefined> {
  if (context.auth === undefined) return undefined;
  try {
    return await context.auth.authenticate(request.headers, query);
  } catch (error) {
    if (!(error instanceof AuthenticationError)) throw error;
    context.logger.debug({ reason: error.message }, 'authentication failed');
    throw new HandshakeError(401, 'Authentication required');
  }
}

/** Pulsar checks authorization after parsing the parameters: 403 when denied. */
function authorize(
  request: SessionRequest,
  action: AuthAction,
  context: HandshakeContext,
  topic: TopicName = request.endpoint.topic,
): void {
  if (context.auth === undefined || request.role === undefined) return;
  try {
    context.auth.authorize(request.role, topic, action);
  } catch (error) {
    if (error instanceof AuthorizationError) throw new HandshakeError(403, error.message);
    throw error;
  }
}

/** Parses query parameters, turning a ParamError into Pulsar's handshake answer (400, or 500 for readers). */
function parseQuery<T>(parse: (query: URLSearchParams) => T, query: URLSearchParams): T {
  try {
    return parse(query);
  } catch (error) {
    if (!(error instanceof ParamError)) throw error;
    const message =
      error.status === 400 ? `${HandshakeMessagePrefix.invalidParams}${error.message}` : error.message;
    throw new HandshakeError(error.status, message);
  }
}

/** Maps a failure to open the topic or claim a slot on it to Pulsar's status (spec §8.1). */
function creationFailure(prefix: string, error: unknown, logger: Logger): never {
  const message = `${prefix}${(error as Error).message}`;
  if (error instanceof TopicNotFoundError || error instanceof NamespaceNotFoundError) {
    throw new HandshakeError(404, message);
  }
  if (error instanceof TopicTerminatedError) throw new HandshakeError(503, message);
  if (error instanceof ProducerBusyError || error instanceof ConsumerBusyError)
    throw new HandshakeError(409, message);
  // Anything else is unexpected (I/O, a bug): the client gets a 500, the operator the details.
  logger.error({ err: error }, 'failed to create a producer or consumer');
  throw new HandshakeError(500, message);
}

/**
 * Opens the topic, creating it when auto-creation allows. v2 topics need an existing namespace, as in
 * Pulsar; v1 (cluster-scoped) topics are served without that check, as Pulsar 4.0 does.
 */
async function openTopic(name: TopicName, context: HandshakeContext): Promise<Topic> {
  checkNamespace(name, context);
  return context.topics.get(name, context.options.allowAutoTopicCreation);
}

function checkNamespace(name: TopicName, context: HandshakeContext): void {
  if (name.cluster === undefined && !context.namespaces.hasNamespace(`${name.tenant}/${name.namespace}`)) {
    throw new NamespaceNotFoundError('Namespace not found');
  }
}

/**
 * The topics behind a name: every partition of a partitioned topic (created on use, as the partitioned
 * metadata exists), or the topic itself.
 */
async function openParts(
  name: TopicName,
  context: HandshakeContext,
): Promise<{ topics: Topic[]; partitioned: boolean }> {
  const partitions = context.topics.partitionsOf(name);
  if (partitions === 0) return { topics: [await openTopic(name, context)], partitioned: false };
  const topics = await Promise.all(
    Array.from({ length: partitions }, (_, index) =>
      context.topics.get(partitionTopicName(name, index), true),
    ),
  );
  return { topics, partitioned: true };
}

async function prepareProducer(request: SessionRequest, context: HandshakeContext): Promise<PreparedSession> {
  const { endpoint, query } = request;
  const prefix = HandshakeMessagePrefix.producer;
  const params = parseQuery(parseProducerParams, query);
  authorize(request, 'produce', context);
  const producerName = params.producerName ?? context.nextProducerName();
  const releases: (() => void)[] = [];
  const release = (): void => releases.splice(0).forEach((releaseOne) => releaseOne());
  let target: PublishTarget;
  try {
    if (endpoint.topic.domain === 'non-persistent') {
      checkNamespace(endpoint.topic, context);
      const topic = context.topics.nonPersistent(endpoint.topic);
      releases.push(topic.claimProducerName(producerName));
      target = {
        name: endpoint.topic.fullName,
        // Acked at once with Pulsar's id for non-persistent messages (0:0).
        publish: (message) => {
          topic.publish(message);
          return Promise.resolve({ ordinal: -1, ledgerId: 0, entryId: 0, partition: -1 });
        },
      };
    } else {
      const { topics, partitioned } = await openParts(endpoint.topic, context);
      for (const topic of topics) {
        if (topic.terminated) throw new TopicTerminatedError('Topic was already terminated');
        releases.push(topic.claimProducerName(producerName));
      }
      target = publishTarget(endpoint.topic, topics, partitioned, params);
    }
  } catch (error) {
    release();
    creationFailure(prefix, error, context.logger);
  }
  const logger = context.logger.child({
    component: 'producer',
    topic: endpoint.topic.fullName,
    producerName,
  });
  return {
    endpoint,
    attach: (ws) => {
      const session = new ProducerSession(
        ws,
        target,
        {
          producerName,
          initialSequenceId: params.initialSequenceId ?? -1,
          maxMessageSize: context.options.maxMessageSize,
          maxPendingMessages: context.options.maxPendingMessagesPerProducer,
        },
        logger,
      );
      return { start: () => undefined, handleFrame: (text) => session.handleFrame(text), close: release };
    },
    abandon: release,
  };
}

function publishTarget(
  name: TopicName,
  topics: readonly Topic[],
  partitioned: boolean,
  params: ProducerParams,
): PublishTarget {
  const [single] = topics;
  if (!partitioned && single !== undefined) {
    return {
      name: name.fullName,
      publish: async (message) => ({ ...(await single.publish(message)), partition: -1 }),
    };
  }
  const router = new PartitionRouter(topics.length, params.messageRoutingMode, params.hashingScheme);
  return {
    name: name.fullName,
    publish: async (message) => {
      const partition = router.partitionOf(message.key);
      const topic = topics[partition];
      if (topic === undefined) throw new Error(`no partition ${partition} of ${name.fullName}`);
      return { ...(await topic.publish(message)), partition };
    },
  };
}

async function prepareConsumer(request: SessionRequest, context: HandshakeContext): Promise<PreparedSession> {
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
        parts.push({ topic, subscription, partition: opened.partitioned ? index : -1 });
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
        (consumer) => new TopicConsumerSource(parts, consumer),
        params,
        deadLetter,
        logger,
      );
      for (const { subscription } of parts) subscription.handOver(placeholder, session);
      return session;
    },
    abandon,
  };
}

/**
 * `/ws/v3/consumer/{subscription}?topics=a,b` or `?topicsPattern=<regex>` (spec §5): one consumer on
 * several topics. Exactly one of the two parameters (else 500, as Pulsar's constructor throws);
 * CONSUME is checked on every topic; a pattern matches the persistent topics of its namespace that
 * exist when the consumer connects.
 */
async function prepareMultiTopicConsumer(
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
  try {
    if (topicsParam !== null) {
      names = topicsParam.split(',').map((topic) => parseTopicName(topic.trim()));
      const [first] = names;
      if (first === undefined) throw new Error('no topic in topics');
      nominal = first;
    } else {
      nominal = parseTopicName(pattern ?? '');
      const matcher = new RegExp(`^(?:${pattern ?? ''})$`);
      const existing = await context.topics.list('persistent', `${nominal.tenant}/${nominal.namespace}`);
      names = existing.filter((name) => matcher.test(name)).map((name) => parseTopicName(name));
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
  const request: SessionRequest = {
    endpoint: { kind: 'consumer', version: 'v3', topic: nominal, subscription },
    query,
    role,
  };
  const params = parseQuery(parseConsumerParams, query);
  for (const name of names) authorize(request, 'consume', context, name);
  return subscribe(request, params, names, context);
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
      );
      subscription.handOver(placeholder, session);
      return session;
    },
    abandon: () => subscription.detach(placeholder),
  };
}

/**
 * Where messages go after `maxRedeliverCount` redeliveries: `deadLetterTopic`, or
 * `<topic>-<subscription>-DLQ`, with the properties Pulsar 4.0's client adds.
 */
function deadLetterSink(
  source: TopicName,
  subscription: string,
  deadLetterTopic: string | undefined,
  context: HandshakeContext,
): DeadLetterSink {
  const target = parseTopicName(deadLetterTopic ?? `${source.fullName}-${subscription}-DLQ`);
  let producerSequence = -1;
  return async (entry) => {
    const dlq = await context.topics.get(target, true);
    const originId = `${entry.ledgerId}:${entry.entryId}:${source.partitionIndex}`;
    await dlq.publish({
      ...entry.message,
      publishTime: Date.now(),
      properties: {
        ...entry.message.properties,
        REAL_TOPIC: source.fullName,
        REAL_SUBSCRIPTION: subscription,
        ORIGIN_MESSAGE_ID: originId,
        // Pulsar 4.0's client really writes this misspelt property too.
        ORIGIN_MESSAGE_IDY_TIME: originId,
      },
      producerName: `${subscription}-DLQ`,
      sequenceId: ++producerSequence,
    });
  };
}

async function prepareReader(request: SessionRequest, context: HandshakeContext): Promise<PreparedSession> {
  const { endpoint, query } = request;
  const prefix = HandshakeMessagePrefix.reader;
  const params = parseQuery(parseReaderParams, query);
  authorize(request, 'consume', context);
  if (endpoint.topic.domain === 'non-persistent') {
    checkNamespace(endpoint.topic, context);
    const topic = context.topics.nonPersistent(endpoint.topic);
    const logger = context.logger.child({ component: 'reader', topic: endpoint.topic.fullName });
    return {
      endpoint,
      attach: (ws) =>
        new ReaderSession(
          ws,
          new NonPersistentReaderSource(topic, params.receiverQueueSize),
          params.receiverQueueSize,
          logger,
        ),
      abandon: () => undefined,
    };
  }
  let parts: { topic: Topic; startOrdinal: number }[];
  let partitioned: boolean;
  try {
    // Every reader creation failure is a 500 in Pulsar, topic-not-found included.
    const opened = await openParts(endpoint.topic, context);
    partitioned = opened.partitioned;
    const { start } = params;
    if (partitioned && typeof start !== 'string') {
      throw new Error('a reader of a partitioned topic starts at earliest or latest');
    }
    const startId = typeof start === 'string' ? undefined : decodeMessageId(start.messageId);
    parts = opened.topics.map((topic) => ({
      topic,
      startOrdinal:
        start === 'earliest'
          ? 0
          : startId === undefined
            ? topic.log.length
            : topic.log.firstOrdinalAfter(startId),
    }));
  } catch (error) {
    throw new HandshakeError(500, `${prefix}${(error as Error).message}`);
  }
  const logger = context.logger.child({ component: 'reader', topic: endpoint.topic.fullName });
  return {
    endpoint,
    attach: (ws) => {
      const source = new TopicReaderSource(
        parts.map(({ topic, startOrdinal }) => ({ topic, cursor: topic.reader(startOrdinal) })),
        partitioned,
      );
      return new ReaderSession(ws, source, params.receiverQueueSize, logger);
    },
    abandon: () => undefined,
  };
}

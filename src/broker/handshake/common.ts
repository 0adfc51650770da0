/** What every endpoint's handshake shares: the context, errors, auth checks, opening topics. */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  HandshakeMessagePrefix,
  ParamError,
  partitionTopicName,
  type EndpointPath,
  type TopicName,
} from '../../protocol/index.js';
import { AuthenticationError, AuthorizationError, type AuthAction, type BrokerAuth } from '../auth/index.js';
import { clientMessage } from '../client-message.js';
import { NamespaceNotFoundError, type NamespaceRegistry } from '../namespaces.js';
import type { ResolvedBrokerOptions } from '../options.js';
import { isOutOfDescriptors } from '../storage/out-of-descriptors.js';
import { ConsumerBusyError } from '../topics/subscription.js';
import { ProducerBusyError, TopicTerminatedError, type Topic } from '../topics/topic.js';
import { TopicNotFoundError, type TopicRegistry } from '../topics/topic-registry.js';

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
  /** A text frame as received: its UTF-8 bytes (sessions that want text decode it themselves). */
  handleFrame(frame: Buffer): void;
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

export interface SessionRequest {
  readonly endpoint: EndpointPath;
  readonly query: URLSearchParams;
  /** The authenticated role, when auth is enabled. */
  readonly role: string | undefined;
}

export async function authenticate(
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
export function authorize(
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
export function parseQuery<T>(parse: (query: URLSearchParams) => T, query: URLSearchParams): T {
  try {
    return parse(query);
  } catch (error) {
    if (!(error instanceof ParamError)) throw error;
    const message =
      error.status === 400 ? `${HandshakeMessagePrefix.invalidParams}${error.message}` : error.message;
    throw new HandshakeError(error.status, message);
  }
}

/** Maps a failure to open the topic or claim a slot on it to Pulsar's status (docs/protocol.md §8.1). */
export function creationFailure(prefix: string, error: unknown, logger: Logger): never {
  const message = `${prefix}${clientMessage(error)}`;
  if (error instanceof TopicNotFoundError || error instanceof NamespaceNotFoundError) {
    throw new HandshakeError(404, message);
  }
  if (error instanceof TopicTerminatedError) throw new HandshakeError(503, message);
  if (error instanceof ProducerBusyError || error instanceof ConsumerBusyError)
    throw new HandshakeError(409, message);
  // Out of file descriptors: momentary, so 503 (try again) as for an overloaded broker.
  if (isOutOfDescriptors(error)) throw new HandshakeError(503, message);
  // Anything else is unexpected (I/O, a bug): the client gets a 500, the operator the details.
  logger.error({ err: error }, 'failed to create a producer or consumer');
  throw new HandshakeError(500, message);
}

/**
 * Opens the topic, creating it when auto-creation allows. v2 topics need an existing namespace, as in
 * Pulsar; v1 (cluster-scoped) topics are served without that check, as Pulsar 4.0 does.
 */
export async function openTopic(name: TopicName, context: HandshakeContext): Promise<Topic> {
  checkNamespace(name, context);
  return context.topics.get(name, context.options.allowAutoTopicCreation);
}

export function checkNamespace(name: TopicName, context: HandshakeContext): void {
  if (name.cluster === undefined && !context.namespaces.hasNamespace(`${name.tenant}/${name.namespace}`)) {
    throw new NamespaceNotFoundError('Namespace not found');
  }
}

/**
 * The topics behind a name: every partition of a partitioned topic (created on use, as the partitioned
 * metadata exists), or the topic itself.
 */
export async function openParts(
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

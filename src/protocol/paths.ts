/**
 * WebSocket endpoint paths (docs/protocol.md §1.2): building them for clients and parsing them exactly as
 * Pulsar's handlers do, on the raw, still percent-encoded request path.
 */
import { isBlankName, isTopicDomain, topicNameOf, TopicNameError, type TopicName } from './topic-name.js';

export type EndpointKind = 'producer' | 'consumer' | 'reader';

export interface EndpointPath {
  readonly kind: EndpointKind;
  /** v3 is the multi-topic consumer (docs/protocol.md §5); its `topic` is the first of its topics. */
  readonly version: 'v1' | 'v2' | 'v3';
  readonly topic: TopicName;
  /** Consumers only. */
  readonly subscription?: string;
}

/**
 * A path Pulsar rejects. `status` follows where Pulsar fails: topic parsing happens outside the
 * handler's try block (HTTP 500), the subscription inside it (HTTP 400).
 */
export class EndpointPathError extends Error {
  override readonly name = 'EndpointPathError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 500,
  ) {
    super(message);
  }
}

/**
 * Whether Pulsar's HTTP server (Jetty) refuses the raw request path before any handler sees it: an
 * encoded NUL (`%00`) anywhere in the path is answered `400 Bad Request`, for the WebSocket and the
 * admin endpoints alike. The query string is not checked.
 */
export function containsEncodedNul(rawPath: string): boolean {
  return rawPath.includes('%00');
}

/** Java's `URLDecoder.decode(s, UTF-8)`: `+` is a space, `%XX` are UTF-8 bytes. */
export function formDecode(segment: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i] ?? '';
    if (ch === '+') bytes.push(0x20);
    else if (ch === '%') {
      const hex = segment.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new TopicNameError(`URLDecoder: Illegal hex characters in escape (%) pattern - ${hex}`);
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

const KIND_BY_SEGMENT: Record<string, EndpointKind> = {
  producer: 'producer',
  consumer: 'consumer',
  reader: 'reader',
};

/**
 * Parses `/ws/v2/{producer|reader}/{domain}/{tenant}/{ns}/{topic...}`,
 * `/ws/v2/consumer/{domain}/{tenant}/{ns}/{topic}/{subscription}` and the v1 forms with a cluster.
 * @throws EndpointPathError with the HTTP status Pulsar answers.
 */
export function parseEndpointPath(rawPath: string): EndpointPath {
  // Split keeping empty segments; parts[0] is the empty string before the leading '/'.
  const parts = rawPath.split('/');
  const isV2 = parts[2] === 'v2';
  const kind = KIND_BY_SEGMENT[(isV2 ? parts[3] : parts[2]) ?? ''];
  if (parts[1] !== 'ws' || kind === undefined) throw new EndpointPathError(`No endpoint at ${rawPath}`, 404);
  if (parts.length < 8) {
    throw new EndpointPathError('java.lang.IllegalArgumentException: Invalid topic name format', 500);
  }
  const domain = parts[isV2 ? 4 : 3] ?? '';
  if (!isTopicDomain(domain)) throw new EndpointPathError('java.lang.IllegalArgumentException', 500);
  const namespaceParts = isV2 ? parts.slice(5, 7) : parts.slice(4, 7);
  const topicEnd = kind === 'consumer' ? parts.length - 1 : parts.length;
  const localName = parts
    .slice(7, topicEnd)
    .filter((segment) => segment.length > 0)
    .join('/');
  let topic: TopicName;
  try {
    topic = topicNameOf(domain, namespaceParts.map(formDecode), formDecode(localName));
  } catch (error) {
    throw new EndpointPathError(`java.lang.IllegalArgumentException: ${(error as Error).message}`, 500);
  }
  if (kind !== 'consumer') return { kind, version: isV2 ? 'v2' : 'v1', topic };
  if (parts.length !== 9) {
    throw new EndpointPathError('Invalid query params: Invalid topic name format', 400);
  }
  let subscription: string;
  try {
    subscription = formDecode(parts[8] ?? '');
  } catch (error) {
    throw new EndpointPathError(`Invalid query params: ${(error as Error).message}`, 400);
  }
  if (subscription.length === 0)
    throw new EndpointPathError('Invalid query params: Empty subscription name', 400);
  // The Java client's ConsumerBuilder refuses it, inside the handler's try block.
  if (isBlankName(subscription)) {
    throw new EndpointPathError('Invalid query params: subscriptionName cannot be blank', 400);
  }
  return { kind, version: isV2 ? 'v2' : 'v1', topic, subscription };
}

/** Percent-encodes one path segment so Pulsar's decoder gives it back unchanged (`+` → `%2B`). */
export function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment);
}

function topicPath(topic: TopicName): string {
  const ns =
    topic.cluster === undefined
      ? [topic.tenant, topic.namespace]
      : [topic.tenant, topic.cluster, topic.namespace];
  return [topic.domain, ...ns, topic.localName].map(encodePathSegment).join('/');
}

/** The endpoint path for a topic: v2 for v2 names, v1 (cluster-scoped) for v1 names. */
export function endpointPath(kind: EndpointKind, topic: TopicName, subscription?: string): string {
  const prefix = topic.cluster === undefined ? `/ws/v2/${kind}` : `/ws/${kind}`;
  const base = `${prefix}/${topicPath(topic)}`;
  if (kind !== 'consumer') return base;
  if (subscription === undefined || subscription.length === 0) {
    throw new TopicNameError('A consumer path needs a non-empty subscription name');
  }
  return `${base}/${encodePathSegment(subscription)}`;
}

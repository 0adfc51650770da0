/**
 * Pulsar topic names: `{persistent|non-persistent}://{tenant}/{namespace}/{local}` (v2) or
 * `.../{tenant}/{cluster}/{namespace}/{local}` (v1), with the short forms Pulsar accepts
 * (`my-topic` → `persistent://public/default/my-topic`, `t/ns/my-topic` → `persistent://t/ns/my-topic`).
 */

export type TopicDomain = 'persistent' | 'non-persistent';

export interface TopicName {
  readonly domain: TopicDomain;
  readonly tenant: string;
  /** Only for v1 (cluster-scoped) names. */
  readonly cluster?: string;
  readonly namespace: string;
  /** The local name; may contain `/`. */
  readonly localName: string;
  /** Partition index when the local name ends in `-partition-N`, else -1. */
  readonly partitionIndex: number;
  /** The full canonical name, e.g. `persistent://public/default/my-topic`. */
  readonly fullName: string;
}

export const DEFAULT_TENANT = 'public';
export const DEFAULT_NAMESPACE = 'default';
const PARTITION_SUFFIX = /-partition-(\d+)$/;
/** Pulsar's `NamedEntity.checkName` pattern for tenants, clusters and namespaces. */
const ENTITY_NAME = /^[-=:.\w]+$/;
/**
 * What Java's `Character.isWhitespace` accepts: ASCII white space, the separators U+001C to U+001F,
 * and the Unicode space, line and paragraph separators other than no-break spaces.
 */
const JAVA_WHITESPACE = new Set(
  '\t\n\v\f\r\u001C\u001D\u001E\u001F \u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200A\u2028\u2029\u205F\u3000',
);

/** Java's `StringUtils.isBlank`, with which Pulsar refuses blank local and subscription names. */
export function isBlankName(text: string): boolean {
  for (const char of text) if (!JAVA_WHITESPACE.has(char)) return false;
  return true;
}

export class TopicNameError extends Error {
  override readonly name = 'TopicNameError';
}

export function isTopicDomain(value: string): value is TopicDomain {
  return value === 'persistent' || value === 'non-persistent';
}

function checkEntity(kind: string, value: string, topic: string): void {
  if (!ENTITY_NAME.test(value)) {
    throw new TopicNameError(`Invalid ${kind} name '${value}' in topic '${topic}'`);
  }
}

/**
 * What Pulsar's `TopicName` refuses in a local name. Pulsar parses the full name again, splitting it at
 * the first three slashes: a v2 name whose local name has a slash (`t/ns/a/b`) reads as a v1 name
 * (cluster `ns`, namespace `a`, local name `b`), so `a` must be a valid namespace name and `b` must
 * not be blank. Everything else is accepted (control characters included; NUL is refused by the HTTP
 * server before any name is parsed: see `containsEncodedNul`).
 */
function checkLocalName(
  display: string,
  v2Namespace: readonly string[] | undefined,
  localName: string,
): void {
  let local = localName;
  const slash = localName.indexOf('/');
  if (v2Namespace !== undefined && slash >= 0) {
    const v1Namespace = localName.slice(0, slash);
    if (v1Namespace.length === 0) {
      throw new TopicNameError(`Invalid namespace format. namespace: ${v2Namespace.join('/')}/`);
    }
    if (!ENTITY_NAME.test(v1Namespace)) throw new TopicNameError(`Invalid named entity: ${v1Namespace}`);
    local = localName.slice(slash + 1);
  }
  if (isBlankName(local)) {
    throw new TopicNameError(`Invalid topic name: ${display}. Topic local name must not be blank.`);
  }
}

/** Builds a topic name from its parts, validating them as Pulsar's `TopicName.get(domain, ns, local)`. */
export function topicNameOf(
  domain: TopicDomain,
  namespaceParts: readonly string[],
  localName: string,
): TopicName {
  const [tenant, a, b] = namespaceParts;
  const cluster = namespaceParts.length === 3 ? a : undefined;
  const namespace = namespaceParts.length === 3 ? b : a;
  const display = `${domain}://${namespaceParts.join('/')}/${localName}`;
  if (tenant === undefined || namespace === undefined || namespaceParts.length > 3) {
    throw new TopicNameError(`Invalid topic name '${display}'`);
  }
  checkEntity('tenant', tenant, display);
  if (cluster !== undefined) checkEntity('cluster', cluster, display);
  checkEntity('namespace', namespace, display);
  checkLocalName(display, cluster === undefined ? [tenant, namespace] : undefined, localName);
  const partition = PARTITION_SUFFIX.exec(localName);
  return {
    domain,
    tenant,
    ...(cluster === undefined ? {} : { cluster }),
    namespace,
    localName,
    partitionIndex: partition?.[1] === undefined ? -1 : Number(partition[1]),
    fullName: display,
  };
}

/**
 * Parses a topic name the way Pulsar's `TopicName.get(String)` does, including short forms.
 * @throws TopicNameError when the name is malformed.
 */
export function parseTopicName(input: string): TopicName {
  let domain: TopicDomain = 'persistent';
  let rest = input;
  const schemeEnd = input.indexOf('://');
  if (schemeEnd >= 0) {
    const scheme = input.slice(0, schemeEnd);
    if (!isTopicDomain(scheme)) {
      throw new TopicNameError(`Invalid topic domain '${scheme}' in '${input}'`);
    }
    domain = scheme;
    rest = input.slice(schemeEnd + 3);
  } else if (!input.includes('/')) {
    // Short name: the whole input is the local name in the default namespace.
    return topicNameOf(domain, [DEFAULT_TENANT, DEFAULT_NAMESPACE], input);
  }
  if (schemeEnd < 0) {
    const parts = rest.split('/');
    if (parts.length !== 3) {
      throw new TopicNameError(
        `Invalid short topic name '${input}', it should be in the format of <tenant>/<namespace>/<topic> or <topic>`,
      );
    }
    return topicNameOf(domain, parts.slice(0, 2), parts[2] ?? '');
  }
  // Like Pulsar, split into at most 4 parts: 3 parts are a v2 name (tenant/namespace/local),
  // 4 parts a v1 name (tenant/cluster/namespace/local) whose last part takes the remainder.
  const parts = splitLimit(rest, '/', 4);
  if (parts.length < 3) throw new TopicNameError(`Invalid topic name '${input}'`);
  const nsCount = parts.length - 1;
  return topicNameOf(domain, parts.slice(0, nsCount), parts[nsCount] ?? '');
}

function splitLimit(text: string, separator: string, limit: number): string[] {
  const parts: string[] = [];
  let rest = text;
  while (parts.length < limit - 1) {
    const at = rest.indexOf(separator);
    if (at < 0) break;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + separator.length);
  }
  parts.push(rest);
  return parts;
}

/** The name of partition `index` of a partitioned topic. */
export function partitionTopicName(topic: TopicName, index: number): TopicName {
  const ns =
    topic.cluster === undefined
      ? [topic.tenant, topic.namespace]
      : [topic.tenant, topic.cluster, topic.namespace];
  return topicNameOf(topic.domain, ns, `${topic.localName}-partition-${index}`);
}

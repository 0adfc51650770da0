/**
 * The admin REST calls the streams need: a topic's partition count (partitioned readers and
 * effectively-once producers), its last message id, so a reader can stop at the end of the topic as
 * it was when the reader started, and a namespace's topics, which a pattern consumer matches its
 * pattern against. The admin API is served on the WebSocket service's host and port (`ws://` →
 * `http://`, `wss://` → `https://`), with the same token and TLS (a token file is read again for
 * every call, as for every connection). Each call is bounded and retried as admin-http.ts says.
 */
import { ConnectError, InvalidArgumentError } from '../errors.js';
import type { MessageIdData, TopicName } from '../protocol/index.js';
import { AdminHttpError, getJson, isTopicNotFound, type AdminOptions } from './admin-http.js';
import { safeUrl } from './safe-url.js';

export { AdminHttpError, isTopicNotFound, MAX_ADMIN_BODY_BYTES, type AdminOptions } from './admin-http.js';

/** The admin URL of `action` on a topic, on the WebSocket service's host (`ws` → `http`). */
export function topicAdminUrl(serviceUrl: string, topic: TopicName, action: string): URL {
  const url = new URL(serviceUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  const segments = [topic.tenant, topic.namespace, topic.localName].map(encodeURIComponent);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/admin/v2/${topic.domain}/${segments.join('/')}/${action}`;
  url.search = '';
  return url;
}

/** Pulsar answers `lastMessageId` of a partitioned topic with a 404: say what is really wrong. */
async function refusePartitioned(serviceUrl: string, topic: TopicName, options: AdminOptions): Promise<void> {
  const url = topicAdminUrl(serviceUrl, topic, 'partitions');
  // If this lookup fails too, the caller's own 404 is the error to report.
  const metadata = (await getJson(url, options).catch(() => ({}))) as { partitions?: unknown };
  if (typeof metadata.partitions === 'number' && metadata.partitions > 0) {
    throw new InvalidArgumentError(
      `stopAtEnd needs a non-partitioned topic; ${topic.fullName} has ${metadata.partitions} partitions (read each partition, e.g. ${topic.fullName}-partition-0)`,
    );
  }
}

const isIndex = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);

/**
 * The id of the topic's last message, or null when the topic has none. When that message is in a
 * batch, Pulsar names its batch index (the batch's last message); without one the id names the
 * entry only (`batchIndex` -1). Partitioned topics are not supported by this admin call (Pulsar
 * answers 404 for their base name).
 */
export async function fetchLastMessageId(
  serviceUrl: string,
  topic: TopicName,
  options: AdminOptions,
): Promise<MessageIdData | null> {
  const url = topicAdminUrl(serviceUrl, topic, 'lastMessageId');
  let body: { ledgerId?: unknown; entryId?: unknown; partitionIndex?: unknown; batchIndex?: unknown };
  try {
    body = (await getJson(url, options)) as typeof body;
  } catch (error) {
    if (isTopicNotFound(error)) await refusePartitioned(serviceUrl, topic, options);
    throw error;
  }
  const { ledgerId, entryId, partitionIndex, batchIndex } = body ?? {};
  if (!isIndex(ledgerId) || !isIndex(entryId)) {
    throw new ConnectError(`${safeUrl(url.toString())} answered without ledgerId/entryId`, 200, {
      retryable: false,
    });
  }
  if (entryId < 0) return null;
  return {
    ledgerId,
    entryId,
    partition: isIndex(partitionIndex) && partitionIndex >= 0 ? partitionIndex : topic.partitionIndex,
    batchIndex: isIndex(batchIndex) && batchIndex >= 0 ? batchIndex : -1,
    batchSize: 0,
  };
}

/** The topics of a namespace, as the admin API lists them. */
export interface NamespaceTopics {
  /** Non-partitioned topics and the partitions of partitioned ones (`<name>-partition-<n>`), full names. */
  readonly topics: readonly string[];
  /** Partitioned topics by base name (full names). */
  readonly partitioned: readonly string[];
}

function namespaceAdminUrl(serviceUrl: string, domain: string, namespace: string, suffix: string): URL {
  const url = new URL(serviceUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  const segments = namespace.split('/').map(encodeURIComponent);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/admin/v2/${domain}/${segments.join('/')}${suffix}`;
  url.search = '';
  return url;
}

function stringList(url: URL, body: unknown): string[] {
  if (!Array.isArray(body) || !body.every((item) => typeof item === 'string')) {
    throw new ConnectError(
      `${safeUrl(url.toString())} answered with something other than a list of topics`,
      200,
      { retryable: false },
    );
  }
  return body;
}

/**
 * Lists the topics of `namespace` (`tenant/namespace`) in `domain` (`GET /admin/v2/{domain}/{ns}` and
 * `.../partitioned`): what a pattern consumer matches its pattern against.
 * @throws ConnectError (404 for an unknown namespace) or AuthError, as the admin API answers.
 */
export async function fetchNamespaceTopics(
  serviceUrl: string,
  domain: string,
  namespace: string,
  options: AdminOptions,
): Promise<NamespaceTopics> {
  const topicsUrl = namespaceAdminUrl(serviceUrl, domain, namespace, '');
  const partitionedUrl = namespaceAdminUrl(serviceUrl, domain, namespace, '/partitioned');
  const [topics, partitioned] = await Promise.all([
    getJson(topicsUrl, options).then((body) => stringList(topicsUrl, body)),
    getJson(partitionedUrl, options).then((body) => stringList(partitionedUrl, body)),
  ]);
  return { topics, partitioned };
}

/**
 * How many partitions the topic has (`GET /admin/v2/{domain}/{tenant}/{ns}/{topic}/partitions`):
 * 0 for a non-partitioned topic, and for one that does not exist yet (Pulsar 4.0 answers 404 with
 * `{"reason":"Topic … not found"}` then, as the embedded broker does; older servers answer
 * `{"partitions":0}`; either way first use creates a non-partitioned topic). Any other 404 (no admin
 * API on that host and port) is an error: taking it for "not partitioned" would route an
 * effectively-once producer's messages to the wrong topic.
 * @throws ConnectError (the admin API unreachable, or another HTTP error) or AuthError, as it answers.
 */
export async function fetchPartitionCount(
  serviceUrl: string,
  topic: TopicName,
  options: AdminOptions,
): Promise<number> {
  const url = topicAdminUrl(serviceUrl, topic, 'partitions');
  let body: { partitions?: unknown };
  try {
    body = (await getJson(url, options)) as typeof body;
  } catch (error) {
    if (isTopicNotFound(error)) return 0;
    if (error instanceof AdminHttpError && error.status === 404 && error.reason === undefined) {
      throw new ConnectError(
        `cannot tell how many partitions ${topic.fullName} has: ${error.message}, which is not Pulsar's answer for a topic (the admin API must be reachable on the WebSocket service's host and port; a WebSocket service run on its own, or a proxy that does not forward /admin/v2, answers so)`,
        404,
        { cause: error, retryable: false },
      );
    }
    throw error;
  }
  const partitions = (body as { partitions?: unknown } | null)?.partitions;
  if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < 0) {
    throw new ConnectError(
      `${safeUrl(url.toString())} answered without a partition count: ${JSON.stringify(partitions)}`,
      200,
      { retryable: false },
    );
  }
  return partitions;
}

/**
 * The admin REST calls the streams need: a topic's last message id, so a reader can stop at the
 * end of the topic as it was when the reader started, and a namespace's topics, which a pattern
 * consumer matches its pattern against. The admin API is served on the WebSocket
 * service's host and port (`ws://` → `http://`, `wss://` → `https://`), with the same token and TLS
 * (a token file is read again for every call, as for every connection).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConnectError, handshakeError, InvalidArgumentError } from '../errors.js';
import { messageIdOf, type MessageIdData, type TopicName } from '../protocol/index.js';
import { safeUrl } from './safe-url.js';
import type { TlsOptions } from './session.js';
import { currentToken, type TokenOptions } from './token.js';

/** The token (or token file, read again for each call) and TLS settings of the WebSocket sessions. */
export interface AdminOptions extends TokenOptions {
  readonly tls?: TlsOptions;
}

/** The admin URL of `action` on a topic, on the WebSocket service's host (`ws` → `http`). */
export function topicAdminUrl(serviceUrl: string, topic: TopicName, action: string): URL {
  const url = new URL(serviceUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  const segments = [topic.tenant, topic.namespace, topic.localName].map(encodeURIComponent);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/admin/v2/${topic.domain}/${segments.join('/')}/${action}`;
  url.search = '';
  return url;
}

async function getJson(url: URL, options: AdminOptions): Promise<unknown> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const token = await currentToken(options);
  const headers = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers, ...(options.tls ?? {}) }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('error', reject);
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status !== 200) {
          let reason = body.slice(0, 200);
          try {
            const parsed = JSON.parse(body) as { reason?: unknown };
            if (typeof parsed.reason === 'string') reason = parsed.reason;
          } catch {
            // Not JSON (a proxy's page): the raw start of the body is the best reason there is.
          }
          reject(handshakeError(status, reason, safeUrl(url.toString())));
          return;
        }
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(
            new ConnectError(`${safeUrl(url.toString())} answered with a body that is not JSON`, 200, {
              cause: error,
            }),
          );
        }
      });
    });
    req.on('error', (error) =>
      reject(
        new ConnectError(`cannot reach ${safeUrl(url.toString())}: ${error.message}`, undefined, {
          cause: error,
        }),
      ),
    );
    req.end();
  });
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

/**
 * The id of the topic's last message, or null when the topic has none. Partitioned topics are not
 * supported by this admin call (Pulsar answers 404 for their base name).
 */
export async function fetchLastMessageId(
  serviceUrl: string,
  topic: TopicName,
  options: AdminOptions,
): Promise<MessageIdData | null> {
  const url = topicAdminUrl(serviceUrl, topic, 'lastMessageId');
  let body: { ledgerId?: unknown; entryId?: unknown };
  try {
    body = (await getJson(url, options)) as typeof body;
  } catch (error) {
    if (error instanceof ConnectError && error.status === 404)
      await refusePartitioned(serviceUrl, topic, options);
    throw error;
  }
  const { ledgerId, entryId } = body;
  if (typeof ledgerId !== 'number' || typeof entryId !== 'number') {
    throw new ConnectError(`${safeUrl(url.toString())} answered without ledgerId/entryId`, 200);
  }
  return entryId < 0 ? null : messageIdOf(ledgerId, entryId);
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
 * 0 for a non-partitioned topic, and for one that does not exist yet (Pulsar 4.0 answers 404 then,
 * the embedded broker `{"partitions":0}`; either way first use creates a non-partitioned topic).
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
    if (error instanceof ConnectError && error.status === 404) return 0;
    throw error;
  }
  const { partitions } = body;
  if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < 0) {
    throw new ConnectError(
      `${safeUrl(url.toString())} answered without a partition count: ${JSON.stringify(partitions)}`,
      200,
    );
  }
  return partitions;
}

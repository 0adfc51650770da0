/**
 * The one admin REST call the streams need: a topic's last message id, so a reader can stop at the
 * end of the topic as it was when the reader started. The admin API is served on the WebSocket
 * service's host and port (`ws://` → `http://`, `wss://` → `https://`), with the same token and TLS.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConnectError, handshakeError, InvalidArgumentError } from '../errors.js';
import { messageIdOf, type MessageIdData, type TopicName } from '../protocol/index.js';
import { safeUrl } from './safe-url.js';
import type { TlsOptions } from './session.js';

export interface AdminOptions {
  readonly token?: string;
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

function getJson(url: URL, options: AdminOptions): Promise<unknown> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers = options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` };
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

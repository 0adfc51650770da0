/**
 * Token rotation on a server with token auth (`useAuthTarget`): tokens for the super-user role (valid,
 * or already expired), token files replaced as rotating agents replace them (write aside, then
 * rename), which token each handshake through a fault proxy carried and whether the server took it,
 * and what the tests check with the super-user token (publish, read a topic back, a subscription's
 * backlog). No test waits for a token to expire to learn which token a reconnect used: the proxy
 * saw it.
 */
import { rename, writeFile } from 'node:fs/promises';
import { createToken } from '../../src/broker/index.js';
import { PulsarWsClient } from '../../src/index.js';
import type { ProxiedRequest } from './fault-proxy.js';
import type { AuthTarget } from './target.js';
import { producerUrl } from './target.js';
import { until } from './sidecar.js';
import { handshakeStatus } from './ws-client.js';

/** Two different tokens A and B for the super-user role, both valid for an hour. */
export async function tokensAB(target: AuthTarget): Promise<{ a: string; b: string }> {
  const a = await createToken(target.secretKey, 'admin', { expiresInSeconds: 3600 });
  // A different expiry makes a different token even when both are minted within the same second.
  const b = await createToken(target.secretKey, 'admin', { expiresInSeconds: 3601 });
  return { a, b };
}

/**
 * A token for the super-user role that expired a minute ago: refused (401) by any server from the
 * moment it is made, so a test needs no wait and no timing to see an expired token refused.
 */
export function expiredToken(target: AuthTarget): Promise<string> {
  return createToken(target.secretKey, 'admin', { expiresInSeconds: -60 });
}

/**
 * The WebSocket handshakes among `requests` (a fault proxy's; its plain HTTP calls left out), each as
 * `<token's name> <status>`: `A 101` is a handshake with token A that the server took, `A 401` one it
 * refused. `names` maps a name to a token; a token not in it is `another token`, none is `no token`.
 * Names keep the tokens themselves out of a failed assertion's diff.
 */
export function handshakeLog(
  requests: readonly ProxiedRequest[],
  names: Readonly<Record<string, string>>,
): string[] {
  const nameOf = (token: string | undefined): string =>
    token === undefined
      ? 'no token'
      : (Object.entries(names).find(([, named]) => named === token)?.[0] ?? 'another token');
  return requests
    .filter((request) => request.target.startsWith('/ws/'))
    .map((request) => `${nameOf(request.token)} ${request.status ?? 'no answer'}`);
}

/** Replaces the file at once, as a rotating agent (or Kubernetes' atomic writer) does. */
export async function rotateTokenFile(path: string, token: string): Promise<void> {
  await writeFile(`${path}.next`, `${token}\n`);
  await rename(`${path}.next`, path);
}

/** Waits until the server refuses `token` at the handshake (401): it expired. */
export async function waitUntilRefused(target: AuthTarget, topic: string, token: string): Promise<void> {
  const url = `${producerUrl(target, topic)}?token=${encodeURIComponent(token)}`;
  await until(
    'the short-lived token is refused (401)',
    async () => (await handshakeStatus(url)) === 401,
    30_000,
  );
}

function adminClient(target: AuthTarget): PulsarWsClient {
  return new PulsarWsClient({ url: target.wsUrl, token: target.adminToken });
}

/** Publishes `payloads` with the super-user token, directly (not through any proxy of the test). */
export async function publishAsAdmin(
  target: AuthTarget,
  topic: string,
  payloads: readonly string[],
): Promise<void> {
  const client = adminClient(target);
  try {
    const producer = client.producer(topic);
    for (const payload of payloads) producer.write(payload);
    producer.end();
    await new Promise<void>((resolve, reject) => {
      producer.once('finish', resolve);
      producer.once('error', reject);
    });
  } finally {
    await client.close();
  }
}

/** Every payload on the topic, in order, read with the super-user token. */
export async function topicPayloadsAsAdmin(target: AuthTarget, topic: string): Promise<string[]> {
  const client = adminClient(target);
  try {
    const reader = client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true, highWaterMark: 1000 });
    return (await reader.toArray()).map((message) => message.payload.toString());
  } finally {
    await client.close();
  }
}

/** The subscription's backlog as the admin API reports it (0: every message acknowledged). */
export async function subscriptionBacklog(
  target: AuthTarget,
  topic: string,
  subscription: string,
): Promise<number> {
  const response = await fetch(`${target.adminUrl}/admin/v2/persistent/public/default/${topic}/stats`, {
    headers: { Authorization: `Bearer ${target.adminToken}` },
  });
  if (response.status !== 200) throw new Error(`topic stats: HTTP ${response.status}`);
  const stats = (await response.json()) as { subscriptions?: Record<string, { msgBacklog?: number }> };
  const backlog = stats.subscriptions?.[subscription]?.msgBacklog;
  if (backlog === undefined) throw new Error(`no subscription ${subscription} on ${topic}`);
  return backlog;
}

/** Waits until every message of the subscription is acknowledged on the server. */
export async function waitForNoBacklog(
  target: AuthTarget,
  topic: string,
  subscription: string,
): Promise<void> {
  await until(
    `no backlog on ${subscription}`,
    async () => (await subscriptionBacklog(target, topic, subscription)) === 0,
  );
}

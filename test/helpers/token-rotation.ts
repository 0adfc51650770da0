/**
 * Token rotation on a server with token auth (`useAuthTarget`): token files replaced as rotating
 * agents replace them (write aside, then rename), waiting until a short-lived token is refused, and
 * what the tests check with the super-user token (publish, read a topic back, a subscription's backlog).
 */
import { rename, writeFile } from 'node:fs/promises';
import { createToken } from '../../src/broker/index.js';
import { PulsarWsClient } from '../../src/index.js';
import type { AuthTarget } from './target.js';
import { producerUrl } from './target.js';
import { until } from './sidecar.js';
import { handshakeStatus } from './ws-client.js';

/**
 * Token A (expires after `lifetimeSeconds`) and token B (valid for an hour) for the super-user role.
 * A must outlive the start of what connects with it: a child process needs longer than a stream.
 */
export async function tokensAB(target: AuthTarget, lifetimeSeconds = 4): Promise<{ a: string; b: string }> {
  const a = await createToken(target.secretKey, 'admin', { expiresInSeconds: lifetimeSeconds });
  const b = await createToken(target.secretKey, 'admin', { expiresInSeconds: 3600 });
  return { a, b };
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

/**
 * Multi-topic and pattern consumers on a server with token auth: a 403 on one of the topics fails the
 * stream with an `AuthError` naming that topic (no hang); a role granted consume on a namespace may
 * list its topics for a pattern (Pulsar's GET_TOPICS operation), a role without a grant may not (the
 * stream fails with Pulsar's 403). Embedded broker with auth, or the auth-enabled Pulsar
 * (PULSAR_AUTH_WS_URL).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createToken } from '../../src/broker/index.js';
import { AuthError, PulsarWsClient, type ConsumerMessage } from '../../src/index.js';
import { externalAuthTarget, externalTarget, uniqueTopic, useAuthTarget } from '../helpers/target.js';

const target = useAuthTarget();
const clients: PulsarWsClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${target.adminUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${target.adminToken}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.status, await response.text()).toBeLessThan(300);
}

async function clientAs(role: string): Promise<PulsarWsClient> {
  const client = new PulsarWsClient({ url: target.wsUrl, token: await createToken(target.secretKey, role) });
  clients.push(client);
  return client;
}

function firstError(stream: NodeJS.EventEmitter): Promise<Error> {
  return new Promise((resolve) => stream.once('error', resolve));
}

describe.skipIf(externalTarget && !externalAuthTarget)('multi-topic consumers with token auth', () => {
  it('a 403 on one of the topics fails the stream with an AuthError naming it', async () => {
    const role = uniqueTopic('role');
    const namespace = uniqueTopic('ns');
    await admin('PUT', `/admin/v2/namespaces/public/${namespace}`);
    await admin('POST', `/admin/v2/namespaces/public/default/permissions/${role}`, ['consume']);
    const allowed = uniqueTopic('allowed');
    const refused = `persistent://public/${namespace}/refused`;
    const stream = (await clientAs(role)).consumer([allowed, refused], 's');
    const error = await firstError(stream);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).status).toBe(403);
    expect(error.message).toContain(namespace);
  });

  it('a pattern: a role with consume on the namespace lists it; a role without a grant gets the 403', async () => {
    const role = uniqueTopic('role');
    await admin('POST', `/admin/v2/namespaces/public/default/permissions/${role}`, ['consume']);
    const prefix = uniqueTopic('auth-pattern');
    const topic = `${prefix}-a`;
    const producer = (await clientAs('admin')).producer(topic);
    await new Promise<void>((resolve, reject) =>
      producer.write('hello', (error) => (error ? reject(error) : resolve())),
    );
    const stream = (await clientAs(role)).consumer({ topicsPattern: `public/default/${prefix}-.*` }, 's', {
      subscriptionInitialPosition: 'Earliest',
    });
    const [message] = (await stream.take(1).toArray()) as ConsumerMessage[];
    expect(message?.payload.toString()).toBe('hello');
    expect(message?.topic).toBe(`persistent://public/default/${topic}`);

    const stranger = (await clientAs(uniqueTopic('stranger'))).consumer(
      { topicsPattern: `${prefix}-.*` },
      's',
    );
    const error = await firstError(stranger);
    expect(error).toBeInstanceOf(AuthError);
    // Pulsar 4.0.7 refuses a namespace operation (GET_TOPICS) by an authenticated role with a 403.
    expect((error as AuthError).status).toBe(403);
    expect(error.message).toContain('authorization failed');
  });
});

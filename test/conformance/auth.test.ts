/**
 * Token authentication and authorization (docs/protocol.md §9, §14 scenarios 19 and 33): 401 without a valid
 * token, `token` query parameter with or without `Bearer ` and the Authorization header, 403 without
 * a grant, grants through the admin API, and the admin API itself needing a super-user.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createToken } from '../../src/broker/index.js';
import { externalAuthTarget, externalTarget, uniqueTopic, useAuthTarget } from '../helpers/target.js';
import { base64, handshakeStatus, SocketPool } from '../helpers/ws-client.js';

const target = useAuthTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

const ns = 'persistent/public/default';
const producerPath = (topic: string) => `/ws/v2/producer/${ns}/${topic}`;
const consumerPath = (topic: string) => `/ws/v2/consumer/${ns}/${topic}/sub`;
const readerPath = (topic: string) => `/ws/v2/reader/${ns}/${topic}`;

function withToken(path: string, token: string): string {
  return `${target.wsUrl}${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

async function grant(role: string, actions: string[]): Promise<void> {
  const response = await fetch(`${target.adminUrl}/admin/v2/namespaces/public/default/permissions/${role}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${target.adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(actions),
  });
  expect(response.status).toBe(204);
}

// The no-auth Pulsar run cannot serve these; the auth-enabled Pulsar run and the embedded broker can.
describe.skipIf(externalTarget && !externalAuthTarget)(
  'token auth (needs a server with token auth enabled)',
  () => {
    it('no token is a 401 for producers, consumers and readers', async () => {
      const topic = uniqueTopic();
      expect(await handshakeStatus(`${target.wsUrl}${producerPath(topic)}`)).toBe(401);
      expect(await handshakeStatus(`${target.wsUrl}${consumerPath(topic)}`)).toBe(401);
      expect(await handshakeStatus(`${target.wsUrl}${readerPath(topic)}`)).toBe(401);
    });

    it('authentication comes before parameter checks', async () => {
      expect(await handshakeStatus(`${target.wsUrl}${producerPath(uniqueTopic())}?hashingScheme=X`)).toBe(
        401,
      );
    });

    it('a token signed with another key, a malformed token and an expired token are 401s', async () => {
      const topic = uniqueTopic();
      const otherKey = Buffer.alloc(32, 7);
      expect(
        await handshakeStatus(withToken(producerPath(topic), await createToken(otherKey, 'admin'))),
      ).toBe(401);
      expect(await handshakeStatus(withToken(producerPath(topic), 'not-a-jwt'))).toBe(401);
      const expired = await createToken(target.secretKey, 'admin', { expiresInSeconds: -60 });
      expect(await handshakeStatus(withToken(producerPath(topic), expired))).toBe(401);
    });

    it('a super-user token works as query parameter, with Bearer prefix, and as Authorization header', async () => {
      const topic = uniqueTopic();
      const plain = await pool.open(withToken(producerPath(topic), target.adminToken));
      plain.send({ payload: base64('a'), context: '1' });
      expect(await plain.next()).toMatchObject({ result: 'ok' });
      expect(await handshakeStatus(withToken(readerPath(topic), `Bearer ${target.adminToken}`))).toBe(101);
      const viaHeader = await pool.open(`${target.wsUrl}${consumerPath(topic)}`, {
        headers: { Authorization: `Bearer ${target.adminToken}` },
      });
      expect(viaHeader.ws.readyState).toBe(viaHeader.ws.OPEN);
    });

    it('a valid token without a grant is a 403; grants open exactly what they name', async () => {
      const role = `app-${uniqueTopic()}`;
      const token = await createToken(target.secretKey, role);
      const topic = uniqueTopic();
      expect(await handshakeStatus(withToken(producerPath(topic), token))).toBe(403);
      expect(await handshakeStatus(withToken(consumerPath(topic), token))).toBe(403);
      expect(await handshakeStatus(withToken(readerPath(topic), token))).toBe(403);

      await grant(role, ['produce']);
      const producer = await pool.open(withToken(producerPath(topic), token));
      expect(await handshakeStatus(withToken(consumerPath(topic), token))).toBe(403);

      await grant(role, ['produce', 'consume']);
      const consumer = await pool.open(
        withToken(`${consumerPath(topic)}?subscriptionInitialPosition=Earliest`, token),
      );
      producer.send({ payload: base64('granted'), context: 'g' });
      expect(await producer.next()).toMatchObject({ result: 'ok', context: 'g' });
      expect(await consumer.next()).toMatchObject({ payload: base64('granted') });
      expect(await handshakeStatus(withToken(readerPath(topic), token))).toBe(101);
    });

    it('the admin API needs a super-user token', async () => {
      const list = `${target.adminUrl}/admin/v2/namespaces/public`;
      expect((await fetch(list)).status).toBe(401);
      const user = await createToken(target.secretKey, `app-${uniqueTopic()}`);
      expect((await fetch(list, { headers: { Authorization: `Bearer ${user}` } })).status).toBe(401);
      const asAdmin = await fetch(list, { headers: { Authorization: `Bearer ${target.adminToken}` } });
      expect(asAdmin.status).toBe(200);
      expect(await asAdmin.json()).toContain('public/default');
    });
  },
);

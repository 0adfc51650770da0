/**
 * Tenants and namespaces: v2 topics need an existing namespace (404 for producers and consumers,
 * 500 for readers), and the admin API creates them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { handshakeStatus, SocketPool } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${target.adminUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
  });
}

describe('namespaces', () => {
  it('the default namespace exists on a fresh server', async () => {
    const response = await admin('GET', '/admin/v2/namespaces/public');
    expect(response.status).toBe(200);
    expect(await response.json()).toContain('public/default');
  });

  it('a topic in an unknown tenant: producer 404, consumer 404, reader 500', async () => {
    const ns = `${target.wsUrl}/ws/v2`;
    const topic = `persistent/no-such-tenant-${uniqueTopic()}/default/t`;
    expect(await handshakeStatus(`${ns}/producer/${topic}`)).toBe(404);
    expect(await handshakeStatus(`${ns}/consumer/${topic}/sub`)).toBe(404);
    expect(await handshakeStatus(`${ns}/reader/${topic}`)).toBe(500);
  });

  it('a topic in an unknown namespace of a known tenant is 404', async () => {
    expect(await handshakeStatus(`${target.wsUrl}/ws/v2/producer/persistent/public/no-such-ns/t`)).toBe(404);
  });

  it('after the admin API created the tenant and namespace, the topic works', async () => {
    const tenant = `tenant-${uniqueTopic()}`;
    expect(
      (await admin('PUT', `/admin/v2/tenants/${tenant}`, { allowedClusters: ['standalone'] })).status,
    ).toBe(204);
    expect(
      (await admin('PUT', `/admin/v2/tenants/${tenant}`, { allowedClusters: ['standalone'] })).status,
    ).toBe(409);
    expect((await admin('PUT', `/admin/v2/namespaces/${tenant}/ns1`)).status).toBe(204);
    expect((await admin('PUT', `/admin/v2/namespaces/${tenant}/ns1`)).status).toBe(409);
    expect(await (await admin('GET', `/admin/v2/namespaces/${tenant}`)).json()).toEqual([`${tenant}/ns1`]);
    const producer = await pool.open(`${target.wsUrl}/ws/v2/producer/persistent/${tenant}/ns1/t`);
    producer.send({ payload: 'eA==', context: 'x' });
    expect(await producer.next()).toMatchObject({ result: 'ok' });
  });

  it('creating a namespace in an unknown tenant is 404', async () => {
    expect((await admin('PUT', `/admin/v2/namespaces/no-such-tenant-${uniqueTopic()}/ns`)).status).toBe(404);
  });
});

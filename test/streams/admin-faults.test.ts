/**
 * The readers' admin calls through a fault proxy in front of the server (embedded broker or Pulsar):
 * an admin request whose connection hangs is abandoned after `handshakeTimeoutMs` and tried again
 * with the session backoff, so a `stopAtEnd` reader (partition count, then each partition's last
 * message id) reads everything once the path works again; slow answers are waited for.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PulsarWsClient } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { publishAll, range } from '../helpers/publish.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const proxies: FaultProxy[] = [];
const clients: PulsarWsClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

async function proxied(): Promise<{ proxy: FaultProxy; client: PulsarWsClient }> {
  const proxy = await startFaultProxy(target.wsUrl);
  proxies.push(proxy);
  const client = new PulsarWsClient({
    url: proxy.url,
    handshakeTimeoutMs: 500,
    connectTimeoutMs: 30_000,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  clients.push(client);
  return { proxy, client };
}

const adminCalls = (proxy: FaultProxy) =>
  proxy.requests.filter((request) => request.target.startsWith('/admin/'));

async function partitionedTopic(partitions: number): Promise<string> {
  const topic = uniqueTopic('admin-faults');
  const response = await fetch(`${target.adminUrl}/admin/v2/persistent/public/default/${topic}/partitions`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: String(partitions),
  });
  expect(response.status).toBe(204);
  return topic;
}

describe('admin calls through faults', () => {
  it('a hanging admin connection is given up and retried: the stopAtEnd reader reads everything', async () => {
    const topic = await partitionedTopic(2);
    await Promise.all([0, 1].map((p) => publishAll(target, `${topic}-partition-${p}`, range(3, `p${p}-`))));
    const { proxy, client } = await proxied();
    proxy.freezeNew(true);
    const reader = client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true });
    const read = reader.toArray();
    // The first admin request hangs on the frozen path; let it be abandoned, then open the path.
    while (proxy.connections < 1) await new Promise((resolve) => setTimeout(resolve, 10));
    proxy.freezeNew(false);
    const payloads = (await read).map((message) => message.payload.toString()).sort();
    expect(payloads).toEqual([...range(3, 'p0-'), ...range(3, 'p1-')].sort());
    // The frozen connection carried no request through; the retries did.
    expect(proxy.connections).toBeGreaterThan(proxy.requests.length);
    expect(adminCalls(proxy).some((request) => request.target.endsWith('/partitions'))).toBe(true);
  });

  it('slow answers are waited for within handshakeTimeoutMs', async () => {
    const topic = uniqueTopic('admin-slow');
    await publishAll(target, topic, range(4));
    const { proxy, client } = await proxied();
    proxy.delay(100);
    const read = await client.reader(topic, { startMessageId: 'earliest', stopAtEnd: true }).toArray();
    expect(read.map((message) => message.payload.toString())).toEqual(range(4));
  });
});

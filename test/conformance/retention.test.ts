/**
 * Namespace retention (Pulsar's `set-retention`) on both servers. When a consumed ledger is deleted
 * depends on ledger rollover, which differs between the two, so this checks what both show the
 * same: the policy's REST round trip and validation, and that infinite retention keeps acknowledged
 * messages for a reader from `earliest`. The embedded broker's deletion itself is soak-tested in
 * test/broker/retention.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { range } from '../helpers/publish.js';
import { until } from '../helpers/sidecar.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { fromBase64, SocketPool } from '../helpers/ws-client.js';

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

/** A fresh namespace `public/<name>`; returns its admin path. */
async function freshNamespace(): Promise<{ namespace: string; path: string }> {
  const namespace = `public/${uniqueTopic('retention')}`;
  expect((await admin('PUT', `/admin/v2/namespaces/${namespace}`)).status).toBe(204);
  return { namespace, path: `/admin/v2/namespaces/${namespace}/retention` };
}

describe('namespace retention', () => {
  it('GET/POST/DELETE round trip on Pulsar’s path, with Pulsar’s validation', async () => {
    const { path } = await freshNamespace();
    // No policy: 200 with an empty body (the broker defaults apply).
    const unset = await admin('GET', path);
    expect(unset.status).toBe(200);
    expect(await unset.text()).toBe('');
    expect((await admin('POST', path, { retentionTimeInMinutes: 60, retentionSizeInMB: -1 })).status).toBe(
      204,
    );
    const set = await admin('GET', path);
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ retentionTimeInMinutes: 60, retentionSizeInMB: -1 });
    // A single 0 limit is refused, as are limits below -1.
    const single = await admin('POST', path, { retentionTimeInMinutes: 0, retentionSizeInMB: 10 });
    expect(single.status).toBe(400);
    expect(((await single.json()) as { reason: string }).reason).toMatch(
      /^Invalid retention policy: Setting a single time or size limit to 0 is invalid/,
    );
    const below = await admin('POST', path, { retentionTimeInMinutes: -2, retentionSizeInMB: 10 });
    expect(below.status).toBe(400);
    expect(((await below.json()) as { reason: string }).reason).toBe(
      'Invalid retention policy: time limit must be >= -1',
    );
    expect((await admin('POST', path, 'not json')).status).toBe(400);
    // The refused ones changed nothing.
    expect(await (await admin('GET', path)).json()).toEqual({
      retentionTimeInMinutes: 60,
      retentionSizeInMB: -1,
    });
    expect((await admin('DELETE', path)).status).toBe(204);
    expect(await (await admin('GET', path)).text()).toBe('');
    expect((await admin('GET', `/admin/v2/namespaces/public/${uniqueTopic('none')}/retention`)).status).toBe(
      404,
    );
  });

  it('with infinite retention, a reader from earliest reads messages every subscription acknowledged', async () => {
    const { namespace, path } = await freshNamespace();
    expect((await admin('POST', path, { retentionTimeInMinutes: -1, retentionSizeInMB: -1 })).status).toBe(
      204,
    );
    const consumerPath = `${target.wsUrl}/ws/v2/consumer/persistent/${namespace}/t/sub?subscriptionType=Shared`;
    const consumer = await pool.open(consumerPath);
    const payloads = range(30, 'kept-');
    const producer = await pool.open(`${target.wsUrl}/ws/v2/producer/persistent/${namespace}/t`);
    for (const payload of payloads) producer.send({ payload: Buffer.from(payload).toString('base64') });
    await producer.take(payloads.length);
    for (let i = 0; i < payloads.length; i++) {
      consumer.send({ messageId: (await consumer.next<{ messageId: string }>()).messageId });
    }
    // Backlog stats: everything acknowledged. Pulsar applies acks asynchronously (and its WebSocket
    // service may drop acks still in flight when the consumer closes), so the consumer stays
    // connected until the stats show them all.
    const backlog = async (): Promise<number | undefined> => {
      const stats = (await (await admin('GET', `/admin/v2/persistent/${namespace}/t/stats`)).json()) as {
        subscriptions: Record<string, { msgBacklog: number }>;
      };
      return stats.subscriptions.sub?.msgBacklog;
    };
    await until('every ack in the backlog stats', async () => (await backlog()) === 0, 10_000);
    expect(await backlog()).toBe(0);
    await consumer.close();
    const reader = await pool.open(
      `${target.wsUrl}/ws/v2/reader/persistent/${namespace}/t?messageId=earliest`,
    );
    const read = await reader.take<{ payload: string }>(payloads.length);
    expect(read.map((message) => fromBase64(message.payload))).toEqual(payloads);
  });
});

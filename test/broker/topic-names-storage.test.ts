/**
 * How the embedded broker stores names of any length (docs/broker-storage.md, "Where the data is"):
 * a long-named topic and subscription survive a restart; short names keep the layout of earlier
 * versions; a storage failure never shows the data directory to clients.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/broker/index.js';
import { base64, fromBase64, HandshakeRefusedError, TestSocket } from '../helpers/ws-client.js';

let dataDir: string;
let broker: EmbeddedBroker | undefined;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pws-names-'));
});

afterEach(async () => {
  await broker?.stop();
  broker = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

async function start(): Promise<EmbeddedBroker> {
  broker = await EmbeddedBroker.start({ port: 0, dataDir, fsync: 'never' });
  return broker;
}

const ns = 'persistent/public/default';

describe('long names on disk', () => {
  it('a restarted broker finds a 2000-character topic, its messages and its 2000-character subscription', async () => {
    const local = `long-${'t'.repeat(1995)}`;
    const subscription = `sub-${'s'.repeat(1996)}`;
    let running = await start();
    const consumerUrl = () =>
      `${running.url}/ws/v2/consumer/${ns}/${local}/${subscription}?subscriptionInitialPosition=Earliest`;
    const consumer = await TestSocket.open(consumerUrl());
    const producer = await TestSocket.open(`${running.url}/ws/v2/producer/${ns}/${local}`);
    const payloads = ['m0', 'm1', 'm2', 'm3'];
    payloads.forEach((payload, index) => producer.send({ payload: base64(payload), context: String(index) }));
    await producer.take(payloads.length);
    const delivered = await consumer.take<{ messageId: string }>(payloads.length);
    // Acknowledge the first two only: the other two must come again after the restart.
    for (const message of delivered.slice(0, 2)) consumer.send({ messageId: message.messageId });
    await producer.close();
    await consumer.close();
    await running.stop();
    broker = undefined;

    // Stored under a hashed name of at most 255 bytes, beside a readable prefix.
    const dirs = await readdir(join(dataDir, 'topics'));
    const hashed = dirs.find((dir) => dir.includes('#'));
    expect(hashed).toMatch(/^persistent%3A%2F%2Fpublic%2Fdefault%2Flong-t+#[0-9a-f]{64}$/);
    expect(Buffer.byteLength(hashed ?? '')).toBeLessThanOrEqual(255);
    const cursorFiles = await readdir(join(dataDir, 'topics', hashed ?? '', 'subscriptions'));
    expect(cursorFiles.some((file) => /^sub-s+#[0-9a-f]{64}\.json$/.test(file))).toBe(true);

    running = await start();
    const reader = await TestSocket.open(`${running.url}/ws/v2/reader/${ns}/${local}?messageId=earliest`);
    const read = await reader.take<{ payload: string }>(payloads.length);
    expect(read.map((message) => fromBase64(message.payload))).toEqual(payloads);
    await reader.close();
    const again = await TestSocket.open(consumerUrl());
    const redelivered = await again.take<{ payload: string }>(2);
    expect(redelivered.map((message) => fromBase64(message.payload))).toEqual(['m2', 'm3']);
    await again.close();

    const stats = (await (await fetch(`${running.httpUrl}/admin/v2/${ns}/${local}/stats`)).json()) as {
      subscriptions: Record<string, unknown>;
    };
    expect(Object.keys(stats.subscriptions)).toEqual([subscription]);
    const listed = (await (await fetch(`${running.httpUrl}/admin/v2/${ns}`)).json()) as string[];
    expect(listed).toContain(`persistent://public/default/${local}`);
  });

  it('short names keep the layout of earlier versions (the URL-encoded name)', async () => {
    const running = await start();
    const producer = await TestSocket.open(`${running.url}/ws/v2/producer/${ns}/short%20name`);
    producer.send({ payload: base64('x'), context: 'c' });
    await producer.next();
    await producer.close();
    expect(
      existsSync(join(dataDir, 'topics', encodeURIComponent('persistent://public/default/short name'))),
    ).toBe(true);
  });
});

describe('errors clients see', () => {
  it('a storage failure is answered without the data directory in the reason', async () => {
    // A plain file where the topic's directory belongs: opening the topic fails with ENOTDIR.
    await mkdir(join(dataDir, 'topics'), { recursive: true });
    await writeFile(join(dataDir, 'topics', encodeURIComponent('persistent://public/default/blocked')), 'x');
    const running = await start();
    const refused = await TestSocket.open(`${running.url}/ws/v2/producer/${ns}/blocked`).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(HandshakeRefusedError);
    const { status, body } = refused as HandshakeRefusedError;
    expect(status).toBe(500);
    expect(body).toContain('ENOTDIR');
    expect(body).not.toContain(dataDir);

    const admin = await fetch(`${running.httpUrl}/admin/v2/${ns}/blocked/stats`);
    expect(admin.status).toBe(500);
    const reason = ((await admin.json()) as { reason: string }).reason;
    expect(reason).toContain('ENOTDIR');
    expect(reason).not.toContain(dataDir);
  });
});

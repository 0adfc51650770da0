/** Broker configuration that the conformance suite (which runs on defaults) does not cover. */
import { describe, expect, it } from 'vitest';
import { useEmbeddedBrokers } from '../helpers/embedded.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerOptionError, EmbeddedBroker, resolveBrokerOptions } from '../../src/broker/index.js';
import { base64, handshakeStatus, TestSocket } from '../helpers/ws-client.js';

const startBroker = useEmbeddedBrokers();

describe('broker options', () => {
  it('rejects bad values with the option name and the value', () => {
    expect(() => resolveBrokerOptions({ dataDir: '' })).toThrow(BrokerOptionError);
    expect(() => resolveBrokerOptions({ dataDir: 'd', port: 70000 })).toThrow(/`port`.*70000/);
    expect(() => resolveBrokerOptions({ dataDir: 'd', fsync: 'sometimes' as 'always' })).toThrow(/`fsync`/);
    expect(() => resolveBrokerOptions({ dataDir: 'd', defaultRetentionTimeInMinutes: -2 })).toThrow(
      /`defaultRetentionTimeInMinutes`.*-2/,
    );
    // Pulsar refuses a single 0 limit: -1 ignores a limit, 0 and 0 disable retention.
    expect(() =>
      resolveBrokerOptions({ dataDir: 'd', defaultRetentionTimeInMinutes: 60, defaultRetentionSizeInMB: 0 }),
    ).toThrow(/0 together or not at all/);
    expect(() => resolveBrokerOptions({ dataDir: 'd', maxOpenTopics: 0 })).toThrow(/`maxOpenTopics`/);
    expect(() =>
      resolveBrokerOptions({ dataDir: 'd', deduplicationProducerInactivityTimeoutMinutes: 0 }),
    ).toThrow(/`deduplicationProducerInactivityTimeoutMinutes`.*0/);
    expect(resolveBrokerOptions({ dataDir: 'd' }).deduplicationProducerInactivityTimeoutMinutes).toBe(360);
    expect(() => resolveBrokerOptions({ dataDir: 'd', topicIdleTimeoutMillis: -1 })).toThrow(
      /`topicIdleTimeoutMillis`/,
    );
    expect(
      resolveBrokerOptions({ dataDir: 'd', defaultRetentionTimeInMinutes: -1, defaultRetentionSizeInMB: -1 }),
    ).toMatchObject({ defaultRetentionTimeInMinutes: -1, defaultRetentionSizeInMB: -1, maxOpenTopics: 256 });
    expect(() => resolveBrokerOptions({ dataDir: 'd', maxOutboundBytesPerConnection: 0 })).toThrow(
      /`maxOutboundBytesPerConnection`.*0 \(number\)/,
    );
    expect(() => resolveBrokerOptions({ dataDir: 'd', maxInboundBytesPerConnection: 1.5 })).toThrow(
      /`maxInboundBytesPerConnection`/,
    );
    expect(resolveBrokerOptions({ dataDir: 'd' })).toMatchObject({
      maxOutboundBytesPerConnection: 1024 * 1024,
      maxInboundBytesPerConnection: 4 * 1024 * 1024,
      maxPendingMessagesPerProducer: 10_000,
    });
  });

  it('scenario 8: with auto topic creation off, unknown topics are 404 for producers and consumers, 500 for readers', async () => {
    const broker = await startBroker({ allowAutoTopicCreation: false });
    const ns = `${broker.url}/ws/v2`;
    expect(await handshakeStatus(`${ns}/producer/persistent/public/default/missing`)).toBe(404);
    expect(await handshakeStatus(`${ns}/consumer/persistent/public/default/missing/sub`)).toBe(404);
    expect(await handshakeStatus(`${ns}/reader/persistent/public/default/missing`)).toBe(500);
  });

  it('a payload over maxMessageSize gets send-error:8 with its context; the socket stays usable', async () => {
    const broker = await startBroker({ maxMessageSize: 10 });
    const socket = await TestSocket.open(`${broker.url}/ws/v2/producer/persistent/public/default/size`);
    socket.send({ payload: base64('x'.repeat(11)), context: 'big' });
    const ack = await socket.next<{ result: string; context: string; errorMsg: string }>();
    expect(ack).toMatchObject({ result: 'send-error:8', context: 'big' });
    expect(ack.errorMsg).toMatch(/exceeds maxMessageSize 10/);
    socket.send({ payload: base64('small'), context: 'ok' });
    expect(await socket.next()).toMatchObject({ result: 'ok', context: 'ok' });
    await socket.close();
  });

  it('maxTextFrameSize sets the 1009 limit', async () => {
    const broker = await startBroker({ maxTextFrameSize: 64 });
    const socket = await TestSocket.open(`${broker.url}/ws/v2/producer/persistent/public/default/frame`);
    socket.send({ payload: base64('x'.repeat(64)) });
    expect((await socket.closed).code).toBe(1009);
  });

  it('deduplication: true applies to every namespace and survives a restart (ids come from the log)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pws-dedup-'));
    try {
      const path = '/ws/v2/producer/persistent/public/default/dedup?producerName=p';
      let broker = await EmbeddedBroker.start({ port: 0, dataDir, deduplication: true });
      const first = await TestSocket.open(`${broker.url}${path}`);
      first.send({ payload: base64('x'), context: '0' });
      expect(await first.next()).toMatchObject({ result: 'ok' });
      await first.close();
      await broker.stop();
      broker = await EmbeddedBroker.start({ port: 0, dataDir, deduplication: true });
      const again = await TestSocket.open(`${broker.url}${path}&initialSequenceId=-1`);
      again.send({ payload: base64('x'), context: '1' });
      expect(await again.next()).toMatchObject({
        result: 'ok',
        messageId: 'CP///////////wEQ////////////ATAA',
      });
      await again.close();
      await broker.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('answers the health endpoint and 404 elsewhere', async () => {
    const broker = await startBroker({});
    expect(await (await fetch(`${broker.httpUrl}/admin/v2/brokers/health`)).text()).toBe('ok');
    expect((await fetch(`${broker.httpUrl}/nothing`)).status).toBe(404);
  });

  it('stop closes open sockets with 1001 and releases the data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pws-stop-'));
    try {
      const broker = await EmbeddedBroker.start({ port: 0, dataDir });
      const socket = await TestSocket.open(`${broker.url}/ws/v2/consumer/persistent/public/default/t/sub`);
      await broker.stop();
      expect((await socket.closed).code).toBe(1001);
      const again = await EmbeddedBroker.start({ port: 0, dataDir });
      await again.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

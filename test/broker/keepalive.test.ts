/**
 * Keepalive (spec §8.3, §14 scenarios 23 and 24; 31 is in the conformance suite), embedded broker only: the idle timeout and ping
 * interval are server configuration, which the shared Pulsar instance of the conformance run has at
 * its defaults (5 min, off).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from '../../src/broker/index.js';
import { TestSocket } from '../helpers/ws-client.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startBroker(options: Partial<EmbeddedBrokerOptions>): Promise<EmbeddedBroker> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pws-keepalive-'));
  const broker = await EmbeddedBroker.start({ port: 0, dataDir, fsync: 'never', ...options });
  cleanups.push(
    () => rm(dataDir, { recursive: true, force: true }),
    () => broker.stop(),
  );
  return broker;
}

const producerPath = '/ws/v2/producer/persistent/public/default/keepalive';

describe('keepalive', () => {
  it('scenario 23: an idle session is closed with 1001 after the idle timeout', async () => {
    const broker = await startBroker({ idleTimeoutMillis: 300 });
    const socket = await TestSocket.open(`${broker.url}${producerPath}`);
    const closed = await socket.closed;
    expect(closed.code).toBe(1001);
    expect(closed.reason).toMatch(/Idle timeout expired: 300\/300 ms/);
  });

  it('scenario 24: server pings keep an idle session open', async () => {
    const broker = await startBroker({ idleTimeoutMillis: 300, pingIntervalMillis: 100 });
    const socket = await TestSocket.open(`${broker.url}${producerPath}`);
    let pings = 0;
    socket.ws.on('ping', (data: Buffer) => {
      expect(data.toString()).toBe('PING');
      pings++;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    expect(pings).toBeGreaterThan(3);
    await socket.close();
  });
});

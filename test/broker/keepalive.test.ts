/**
 * Keepalive (docs/protocol.md §8.3, §14 scenarios 23 and 24; 31 is in the conformance suite), embedded broker only: the idle timeout and ping
 * interval are server configuration, which the shared Pulsar instance of the conformance run has at
 * its defaults (5 min, off).
 */
import { describe, expect, it } from 'vitest';
import { useEmbeddedBrokers } from '../helpers/embedded.js';
import { TestSocket } from '../helpers/ws-client.js';

const startBroker = useEmbeddedBrokers();

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

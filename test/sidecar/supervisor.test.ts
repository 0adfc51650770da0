/**
 * The supervisor's restart backoff, with fake timers: a pipeline that cannot start (its file does
 * not exist) is restarted after 1 s, 2 s, 4 s, then at the ceiling, and /readyz's reason says when.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/sidecar/config.js';
import { createMetrics } from '../../src/sidecar/metrics.js';
import { Supervisor } from '../../src/sidecar/supervisor.js';

afterEach(() => {
  vi.useRealTimers();
});

/** Lets real I/O run (setImmediate is not faked; vi.waitFor would advance the fake clock). */
async function settle(check: () => boolean): Promise<void> {
  for (let turn = 0; turn < 100_000 && !check(); turn++)
    await new Promise((resolve) => setImmediate(resolve));
  expect(check()).toBe(true);
}

describe('Supervisor', () => {
  it('restarts a failing pipeline with doubling delays up to restart.maxDelay, and says when', async () => {
    const result = parseConfig(`
restart: { initialDelay: 1s, maxDelay: 4s }
pipelines:
  broken:
    source: { type: file, path: /nonexistent/pulsar-ws-sidecar-test.log }
    sink: { type: topic, topic: t }
`);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const { config } = result;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const metrics = createMetrics();
    const supervisor = new Supervisor({
      client: { url: 'ws://127.0.0.1:9' },
      metrics,
      logger: pino({ enabled: false }),
      restart: config.restart,
      stallTimeout: config.stallTimeout,
    });
    supervisor.start(config.pipelines);
    const reasons: string[] = [];
    for (const delay of [1000, 2000, 4000, 4000]) {
      await settle(() => supervisor.status().broken?.state === 'failed');
      reasons.push(supervisor.status().broken?.reason ?? '');
      expect(supervisor.readiness()).toMatchObject({
        ready: false,
        notReady: { broken: { state: 'failed' } },
      });
      vi.advanceTimersByTime(delay - 1);
      expect(supervisor.status().broken?.state).toBe('failed');
      vi.advanceTimersByTime(1);
    }
    expect(reasons.map((reason) => /restart \d+ in \d+s$/.exec(reason)?.[0])).toEqual([
      'restart 1 in 1s',
      'restart 2 in 2s',
      'restart 3 in 4s',
      'restart 4 in 4s',
    ]);
    expect(reasons[0]).toMatch(/cannot open \/nonexistent\/pulsar-ws-sidecar-test\.log/);
    await settle(() => supervisor.status().broken?.state === 'failed');
    expect(supervisor.status().broken?.restarts).toBe(4);
    const { timedOut } = await supervisor.drain(1000);
    expect(timedOut).toBe(false);
    expect(supervisor.status().broken?.state).toBe('stopped');
    const text = await metrics.registry.metrics();
    expect(text).toContain('pulsar_ws_restarts_total{pipeline="broken"} 4');
  });
});

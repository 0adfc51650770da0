/**
 * A topic source's `receiverQueueSize` is the window its consumer asks the broker for: on an empty
 * topic the whole window stays outstanding, as `pulsar_ws_permits_outstanding` shows. In-process
 * supervisor against the embedded broker (or the target server).
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/sidecar/config.js';
import { createMetrics } from '../../src/sidecar/metrics.js';
import { Supervisor } from '../../src/sidecar/supervisor.js';
import { PIPE_RECEIVER_QUEUE_SIZE } from '../../src/streams/consumer-stream.js';
import { until } from '../helpers/sidecar.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const supervisors: Supervisor[] = [];
afterEach(async () => {
  for (const supervisor of supervisors.splice(0)) await supervisor.drain(5000);
});

describe('sidecar topic source receiverQueueSize', () => {
  it('is the permit window its consumer grants (default: the pipe window)', async () => {
    const [explicit, fallback, out] = [uniqueTopic('win'), uniqueTopic('win'), uniqueTopic('win-out')];
    const result = parseConfig(`
pipelines:
  explicit:
    source: { type: topic, topic: ${explicit}, subscription: s, receiverQueueSize: 7 }
    sink: { type: topic, topic: ${out} }
  fallback:
    source: { type: topic, topic: ${fallback}, subscription: s }
    sink: { type: topic, topic: ${out} }
`);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const metrics = createMetrics();
    const supervisor = new Supervisor({
      client: { url: target.wsUrl },
      metrics,
      logger: pino({ enabled: false }),
      restart: result.config.restart,
      stallTimeout: result.config.stallTimeout,
    });
    supervisors.push(supervisor);
    supervisor.start(result.config.pipelines);
    const permits = async (): Promise<Record<string, number>> => {
      supervisor.refreshGauges();
      const { values } = await metrics.permitsOutstanding.get();
      return Object.fromEntries(values.map(({ labels, value }) => [String(labels.pipeline), value]));
    };
    const expected = { explicit: 7, fallback: PIPE_RECEIVER_QUEUE_SIZE };
    await until('both windows granted', async () => {
      const now = await permits();
      if (now.explicit === expected.explicit && now.fallback === expected.fallback) return true;
      throw new Error(`permits outstanding: ${JSON.stringify(now)}`);
    });
    expect(await permits()).toEqual(expected);
  });
});

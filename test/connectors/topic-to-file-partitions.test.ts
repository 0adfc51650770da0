/**
 * `topic-to-file` of several topics and of partitioned topics: three topics (repeated --topic) and a
 * pattern deliver every line; on Failover and Exclusive subscriptions of a 3-partition topic and of
 * three topics, SIGKILLed at random moments several times (the first before its first fsync, the
 * others at random points spread over the run) and then run to the end, the output holds
 * every message exactly once and each topic-partition's messages in order (exactly-once per
 * topic-partition). Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { PulsarWsClient } from '../../src/index.js';
import type { NdjsonEnvelope } from '../../src/connectors/sink-format.js';
import { cliOf, outputSize, savedState, useTempDirs } from '../helpers/file-outputs.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const tempDir = useTempDirs('pws-file-partitions-');
const cli = cliOf(target);

const KILLS = 6;

async function createPartitioned(topic: string, partitions: number): Promise<void> {
  const response = await fetch(`${target.adminUrl}/admin/v2/persistent/public/default/${topic}/partitions`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: String(partitions),
  });
  expect(response.status).toBe(204);
}

/** Publishes `<label>-<i>` for i in [0, count), keyed so that a partitioned topic's partitions all get some. */
async function publish(topic: string, label: string, count: number): Promise<void> {
  const client = new PulsarWsClient({ url: target.wsUrl });
  try {
    const messages = Array.from({ length: count }, (_, i) => ({
      payload: `${label}-${i}`,
      key: `k${i % 16}`,
    }));
    await pipeline(Readable.from(messages), client.producer(topic, { maxInFlight: 1000 }));
  } finally {
    await client.close();
  }
}

/** The output's envelopes. */
async function envelopes(output: string): Promise<NdjsonEnvelope[]> {
  const text = await readFile(output, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as NdjsonEnvelope);
}

/** Every one of `expected` payloads exactly once, and each topic-partition's `<label>-<i>` in increasing i. */
function expectExactlyOnceInOrder(written: NdjsonEnvelope[], expected: number, topics: number): void {
  const payloads = written.map((envelope) => envelope.payload);
  const duplicates = payloads.length - new Set(payloads).size;
  expect({ lines: payloads.length, distinct: new Set(payloads).size, duplicates }).toEqual({
    lines: expected,
    distinct: expected,
    duplicates: 0,
  });
  const byTopic = new Map<string, number[]>();
  for (const envelope of written) {
    const topic = envelope.topic ?? 'none';
    const sequence = byTopic.get(topic) ?? [];
    sequence.push(Number(envelope.payload.split('-').at(-1)));
    byTopic.set(topic, sequence);
  }
  expect(byTopic.size).toBe(topics);
  for (const [topic, sequence] of byTopic) {
    const outOfOrder = sequence.findIndex(
      (value, index) => index > 0 && value <= (sequence[index - 1] ?? -1),
    );
    expect(outOfOrder, `${topic}: out of order at ${outOfOrder}`).toBe(-1);
  }
}

describe('topic-to-file of several topics', () => {
  it('three topics (--topic repeated): every line', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.ndjson');
    const topics = [uniqueTopic('three-a'), uniqueTopic('three-b'), uniqueTopic('three-c')];
    for (const [index, topic] of topics.entries()) await publish(topic, `t${index}`, 1000);
    const run = await cli([
      ...['topic-to-file', ...topics.flatMap((topic) => ['--topic', topic]), '--subscription', 's'],
      ...['--file', output, '--format', 'ndjson', '--count', '3000', '--quiet'],
    ]);
    expect(run.code, run.stderr).toBe(0);
    expectExactlyOnceInOrder(await envelopes(output), 3000, 3);
  });

  it('a pattern (a partitioned topic among the matches): every line of the matching topics, none of the others', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.ndjson');
    const prefix = uniqueTopic('pattern-file');
    await createPartitioned(`${prefix}-p`, 3);
    await publish(`${prefix}-a`, 'a', 500);
    await publish(`${prefix}-p`, 'p', 1500);
    await publish(`${prefix}x-other`, 'other', 10);
    const run = await cli([
      ...['topic-to-file', '--topics-pattern', `persistent://public/default/${prefix}-.*`],
      ...['--subscription', 's', '--file', output, '--format', 'ndjson', '--idle-exit', '3', '--quiet'],
    ]);
    expect(run.code, run.stderr).toBe(0);
    const written = await envelopes(output);
    expect(written.filter((envelope) => envelope.payload.startsWith('other'))).toEqual([]);
    expectExactlyOnceInOrder(written, 2000, 4);
  });

  it('a bad pattern, and topics with a pattern, are usage errors naming what is wrong', async () => {
    const bad = await cli([
      'topic-to-file',
      '--topics-pattern',
      'persistent://public/default/(',
      '--subscription',
      's',
      '--file',
      '/dev/null',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--topics-pattern: invalid topicsPattern "persistent://public/default/("');
    const both = await cli(['consume', 'a', '--topics-pattern', 'a.*', '--subscription', 's']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
  });
});

for (const subscriptionType of ['Failover', 'Exclusive'] as const) {
  for (const shape of ['a 3-partition topic', 'three topics'] as const) {
    describe(`topic-to-file, ${subscriptionType} subscription of ${shape}, SIGKILLed`, () => {
      it(`${KILLS} kills at random moments, then run to the end: every message once, each partition in order`, async () => {
        const dir = await tempDir();
        const output = join(dir, 'out.ndjson');
        const total = 30_000;
        let topicArgs: string[];
        if (shape === 'a 3-partition topic') {
          const topic = uniqueTopic('kill-partitioned');
          await createPartitioned(topic, 3);
          await publish(topic, 'p', total);
          topicArgs = ['--topic', topic];
        } else {
          const topics = [uniqueTopic('kill-a'), uniqueTopic('kill-b'), uniqueTopic('kill-c')];
          for (const [index, topic] of topics.entries()) await publish(topic, `t${index}`, total / 3);
          topicArgs = topics.flatMap((topic) => ['--topic', topic]);
        }
        const args = [
          ...['topic-to-file', ...topicArgs, '--subscription', 's', '--subscription-type', subscriptionType],
          ...['--file', output, '--format', 'ndjson', '--quiet'],
        ];
        const sizes: number[] = [];
        // An envelope is over 200 bytes: the kills spread over the run, each at a random point of its stretch.
        const approximateBytes = total * 200;
        for (let round = 0; round < KILLS; round++) {
          const started = Date.now();
          const killAt = (approximateBytes * (round + Math.random())) / (KILLS + 1);
          // The first run is killed once its output holds lines the state does not cover yet; the
          // others once the output reaches a random size (or after 20 s, should it never).
          const killWhen =
            round === 0
              ? async () => (await outputSize(output)) > ((await savedState(output))?.offset ?? 0)
              : async () => (await outputSize(output)) >= killAt || Date.now() - started > 20_000;
          const run = await cli([...args, '--idle-exit', '30'], killWhen);
          expect(run.code, run.stderr).toBe('SIGKILL');
          sizes.push(await outputSize(output));
        }
        // How far the output had got at each kill: the kills must land while it is being written.
        console.log(`${subscriptionType}, ${shape}: output bytes at each kill: ${sizes.join(', ')}`);
        const final = await cli([...args, '--idle-exit', '3']);
        expect(final.code, final.stderr).toBe(0);
        expectExactlyOnceInOrder(await envelopes(output), total, 3);
        const state = JSON.parse(await readFile(`${output}.state.json`, 'utf8')) as {
          version: number;
          positions: Record<string, string>;
        };
        expect(state.version).toBe(2);
        expect(Object.keys(state.positions)).toHaveLength(3);
      }, 300_000);
    });
  }
}

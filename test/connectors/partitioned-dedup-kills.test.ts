/**
 * Effectively-once into a partitioned topic through the CLI: `file-to-topic --dedup --checkpoint`
 * into a 4-partition topic with deduplication on, SIGKILLed three times at random moments (each
 * after a random number of further lines reached the checkpoint, so acknowledged lines the
 * checkpoint had not saved yet and lines in flight are sent again), then run to the end: every one
 * of the 100,000 lines is on the topic exactly once, and each partition holds its lines in input
 * order (keyless lines go round robin by their position in the file). Embedded broker, or real
 * Pulsar (PULSAR_WS_URL).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/broker-process.js';
import { runNode } from '../helpers/child-process.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';
import { createDedupNamespace, topicPayloads } from '../helpers/topics.js';

const target = useTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const LINES = 100_000;
const PARTITIONS = 4;
const KILLS = 3;

async function checkpointedMessages(checkpoint: string): Promise<number> {
  const text = await readFile(checkpoint, 'utf8').catch(() => undefined);
  if (text === undefined) return 0;
  const { files } = JSON.parse(text) as { files: Record<string, { messages: number }> };
  return Object.values(files)[0]?.messages ?? 0;
}

describe('file-to-topic --dedup --checkpoint into a partitioned topic, SIGKILLed', () => {
  it(`${KILLS} kills at random moments, then run to the end: exactly ${LINES} of ${LINES} lines, each partition in order`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pws-partitioned-dedup-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const input = join(dir, 'in.txt');
    const checkpoint = join(dir, 'checkpoint.json');
    const lines = Array.from({ length: LINES }, (_, i) => `line-${i}`);
    await writeFile(input, `${lines.join('\n')}\n`);
    const namespace = await createDedupNamespace(target, 'dedup-kills');
    const topic = `persistent://${namespace}/${uniqueTopic('kills')}`;
    const created = await fetch(
      `${target.adminUrl}/admin/v2/persistent/${namespace}/${topic.split('/').at(-1)}/partitions`,
      { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: String(PARTITIONS) },
    );
    expect(created.status).toBe(204);
    const args = [
      ...[CLI_PATH, 'file-to-topic', '--url', target.wsUrl, '--topic', topic, '--file', input],
      ...['--checkpoint', checkpoint, '--dedup', '--quiet', '--log-level', 'warn'],
    ];
    for (let kill = 0; kill < KILLS; kill++) {
      const from = await checkpointedMessages(checkpoint);
      // A random point 2,000 to 20,000 lines further on (the whole run is at most 60,000 of 100,000).
      const at = from + 2000 + Math.floor(Math.random() * 18_000);
      const run = await runNode(args, async () => (await checkpointedMessages(checkpoint)) >= at, 5);
      expect(run.code, run.stderr).toBe('SIGKILL');
      console.log(`kill ${kill + 1}: checkpoint ${from} → killed at ≥ ${at}`);
    }
    const last = await runNode(args);
    expect(last.code, last.stderr).toBe(0);
    expect(await checkpointedMessages(checkpoint)).toBe(LINES);

    const partitions = await Promise.all(
      Array.from({ length: PARTITIONS }, (_, partition) =>
        topicPayloads(target, `${topic}-partition-${partition}`),
      ),
    );
    const total = partitions.reduce((sum, payloads) => sum + payloads.length, 0);
    console.log(`stored ${total} of ${LINES} (per partition: ${partitions.map((p) => p.length).join(', ')})`);
    expect(total).toBe(LINES);
    for (const [partition, payloads] of partitions.entries())
      expect(payloads).toEqual(lines.filter((_, i) => i % PARTITIONS === partition));
  }, 240_000);
});

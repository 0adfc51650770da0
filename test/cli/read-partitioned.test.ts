/**
 * `pulsar-ws read` of a partitioned topic (built CLI, both servers): --until-end prints every
 * message and exits 0, each partition's messages in order; one --start message id per partition
 * resumes each partition after its id; an id that names no partition exits 2 saying why.
 */
import { describe, expect, it } from 'vitest';
import { publishAll, range } from '../helpers/publish.js';
import { runCli } from '../helpers/sidecar.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const PARTITIONS = 3;

async function partitionedTopic(): Promise<string> {
  const topic = uniqueTopic('cli-read-part');
  const response = await fetch(`${target.adminUrl}/admin/v2/persistent/public/default/${topic}/partitions`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: String(PARTITIONS),
  });
  expect(response.status).toBe(204);
  return topic;
}

/** Lines p<partition>-m<i>, published to each partition by its own name: `counts[p]` of them. */
async function fill(topic: string, counts: readonly number[]): Promise<string[][]> {
  const lines = counts.map((count, partition) => range(count).map((payload) => `p${partition}-${payload}`));
  await Promise.all(
    lines.map((payloads, partition) => publishAll(target, `${topic}-partition-${partition}`, payloads)),
  );
  return lines;
}

const read = (topic: string, ...args: string[]) =>
  runCli(['read', topic, '--until-end', '--url', target.wsUrl, '--log-level', 'error', ...args]);

describe('read of a partitioned topic', () => {
  it('--until-end from earliest prints every message once, each partition in order, and exits 0', async () => {
    const topic = await partitionedTopic();
    const lines = await fill(topic, [300, 120, 0]);
    const result = await read(topic, '--start', 'earliest');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const printed = result.stdout.trimEnd().split('\n');
    expect(printed).toHaveLength(420);
    for (const [partition, expected] of lines.entries()) {
      expect(printed.filter((line) => line.startsWith(`p${partition}-`))).toEqual(expected);
    }
    const latest = await read(topic, '--start', 'latest');
    expect(latest).toMatchObject({ code: 0, stdout: '' });
  });

  it('one --start id per partition resumes each partition after its id', async () => {
    const topic = await partitionedTopic();
    await fill(topic, [10, 10, 10]);
    const all = await read(topic, '--start', 'earliest', '--format', 'ndjson');
    expect(all.code).toBe(0);
    const messages = all.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { messageId: string; topic: string; payload: string });
    const starts = range(PARTITIONS).map((_, partition) => {
      const own = messages.filter((m) => m.topic.endsWith(`-partition-${partition}`));
      return own[own.length - 1 - partition]?.messageId ?? '';
    });
    const resumed = await read(topic, ...starts.flatMap((id) => ['--start', id]));
    expect(resumed.code).toBe(0);
    expect(resumed.stdout.trimEnd().split('\n').sort()).toEqual(['p1-m9', 'p2-m8', 'p2-m9']);
  });

  it('a --start id that names no partition exits 2 naming the id', async () => {
    const topic = await partitionedTopic();
    const [plain] = await publishAll(target, uniqueTopic('cli-read-plain'), ['x']);
    const result = await read(topic, '--start', plain?.messageId ?? '');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`start message id ${plain?.messageId} names no partition`);
  });
});

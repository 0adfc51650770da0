/**
 * Resuming effectively-once file publishing from a checkpoint (src/connectors/dedup-resume.ts): into
 * a partitioned topic the checkpoint keeps each partition's last sequence id next to the message
 * count; a checkpoint written before that existed (the count only) still loads, and into a
 * partitioned topic it is upgraded so that nothing new is dropped as a duplicate of what the older
 * version stored. Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/connectors/checkpoint.js';
import { effectivelyOnceOptions, upgradeCheckpointEntry } from '../../src/connectors/dedup-resume.js';
import { FileSource } from '../../src/connectors/file-source.js';
import { ConnectorError, PulsarWsClient } from '../../src/index.js';
import { createDedupNamespace, expectAllDelivered, topicPayloads } from '../helpers/topics.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const PARTITIONS = 4;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-dedup-resume-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function client(): PulsarWsClient {
  const made = new PulsarWsClient({ url: target.wsUrl });
  cleanups.push(() => made.close());
  return made;
}

async function partitionedDedupTopic(): Promise<string> {
  const namespace = await createDedupNamespace(target, 'dedup-resume');
  const local = uniqueTopic('resume');
  const response = await fetch(`${target.adminUrl}/admin/v2/persistent/${namespace}/${local}/partitions`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: String(PARTITIONS),
  });
  expect(response.status).toBe(204);
  return `persistent://${namespace}/${local}`;
}

async function allPartitions(topic: string): Promise<string[]> {
  const payloads = await Promise.all(
    Array.from({ length: PARTITIONS }, (_, partition) =>
      topicPayloads(target, `${topic}-partition-${partition}`),
    ),
  );
  return payloads.flat();
}

/** Publishes the file effectively-once from its checkpoint, as `file-to-topic --dedup` does. */
async function publishFile(pulsar: PulsarWsClient, topic: string, file: string, checkpoint: CheckpointStore) {
  await upgradeCheckpointEntry(pulsar, topic, file, checkpoint, undefined);
  const source = await FileSource.open(file, { checkpoint });
  await pipeline(source, pulsar.producer(topic, effectivelyOnceOptions(source, 'resume')));
  await checkpoint.flush();
}

describe('effectively-once file publishing resumed from a checkpoint', () => {
  it('into a partitioned topic, the checkpoint keeps each partition sequence id; a rerun from it stores nothing twice', async () => {
    const dir = await tempDir();
    const topic = await partitionedDedupTopic();
    const file = join(dir, 'in.txt');
    const lines = Array.from({ length: 1000 }, (_, i) => `line-${i}`);
    await writeFile(file, `${lines.slice(0, 600).join('\n')}\n`);
    const path = join(dir, 'checkpoint.json');
    const pulsar = client();
    await publishFile(pulsar, topic, file, await CheckpointStore.open(path));
    const saved = JSON.parse(await readFile(path, 'utf8')) as {
      files: Record<string, { messages: number; sequenceIds?: number[] }>;
    };
    expect(Object.values(saved.files)[0]).toMatchObject({ messages: 600, sequenceIds: [149, 149, 149, 149] });
    // The file grows; the rerun resumes after line 600, each partition after its sequence id 149.
    await writeFile(file, `${lines.join('\n')}\n`);
    await publishFile(pulsar, topic, file, await CheckpointStore.open(path));
    const stored = await allPartitions(topic);
    expect(expectAllDelivered('rerun from the checkpoint', stored, lines)).toBe(0);
  });

  it('an older checkpoint (the message count only) is upgraded: nothing the older version left is lost', async () => {
    const dir = await tempDir();
    const topic = await partitionedDedupTopic();
    const file = join(dir, 'in.txt');
    const lines = Array.from({ length: 1000 }, (_, i) => `line-${i}`);
    await writeFile(file, `${lines.join('\n')}\n`);
    const pulsar = client();
    // The older version: one producer on the base name, whose lines the proxy put on one partition
    // with sequence ids 0 to 699; its checkpoint had saved 500 when it was killed.
    await pipeline(
      Readable.from(lines.slice(0, 700)),
      pulsar.producer(topic, { producerName: 'resume', initialSequenceId: -1 }),
    );
    const info = await stat(file);
    const offset = Buffer.byteLength(`${lines.slice(0, 500).join('\n')}\n`);
    const path = join(dir, 'checkpoint.json');
    await writeFile(
      path,
      JSON.stringify({
        version: 1,
        files: { [file]: { dev: info.dev, ino: info.ino, offset, messages: 500 } },
      }),
    );
    await publishFile(pulsar, topic, file, await CheckpointStore.open(path));
    // Numbered from 0 again, lines 700 to 999 would have been dropped as duplicates of 0 to 699.
    const stored = await allPartitions(topic);
    const duplicates = expectAllDelivered('older checkpoint upgraded', stored, lines);
    expect(duplicates).toBeLessThanOrEqual(200);
    const saved = JSON.parse(await readFile(path, 'utf8')) as {
      files: Record<string, { messages: number; sequenceIds?: number[] }>;
    };
    const entry = Object.values(saved.files)[0];
    expect(entry?.messages).toBe(1000);
    expect(entry?.sequenceIds).toHaveLength(PARTITIONS);
    for (const id of entry?.sequenceIds ?? []) expect(id).toBeGreaterThan(Date.now() - 3_600_000);
  });

  it('a checkpoint whose sequence ids are malformed is refused, naming the file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'checkpoint.json');
    const entry = { dev: 1, ino: 2, offset: 0, messages: 3, sequenceIds: [1, 'x'] };
    await writeFile(path, JSON.stringify({ version: 1, files: { '/data/in.txt': entry } }));
    const error = await CheckpointStore.open(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(String(error)).toContain(`checkpoint ${path}: the entry of /data/in.txt is malformed`);
  });
});

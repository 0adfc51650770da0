/**
 * Resuming effectively-once file publishing from a checkpoint (src/connectors/dedup-resume.ts): into
 * a partitioned topic the checkpoint keeps each partition's last sequence id next to the message
 * count; a checkpoint written before that existed (the count only) still loads, and into a
 * partitioned topic it is upgraded so that nothing new is dropped as a duplicate of what the older
 * version stored. The entry also records the partition count, so a rerun warns that partitions
 * were added only when they were, not when keys never reached the last partitions; an older entry
 * without the count is completed. Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/connectors/checkpoint.js';
import { effectivelyOnceOptions, upgradeCheckpointEntry } from '../../src/connectors/dedup-resume.js';
import { FileSource } from '../../src/connectors/file-source.js';
import { ConnectorError, PulsarWsClient } from '../../src/index.js';
import { keyPartition } from '../../src/protocol/index.js';
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

/** A client; `warnings` collects what its streams log at warn level (the partition-count warning). */
function client(warnings?: string[]): PulsarWsClient {
  const sink = new Writable({
    write(line: Buffer, _encoding, callback) {
      const entry = JSON.parse(line.toString()) as { level: number; msg: string };
      if (entry.level >= 40) warnings?.push(entry.msg);
      callback();
    },
  });
  const made = new PulsarWsClient({ url: target.wsUrl, logger: pino({ level: 'warn' }, sink) });
  cleanups.push(() => made.close());
  return made;
}

interface SavedEntry {
  messages: number;
  sequenceIds?: number[];
  partitions?: number;
}

async function savedEntry(path: string): Promise<SavedEntry | undefined> {
  const saved = JSON.parse(await readFile(path, 'utf8')) as { files: Record<string, SavedEntry> };
  return Object.values(saved.files)[0];
}

/** NDJSON lines whose keys all hash to partitions 0 and 1 of PARTITIONS (2 and 3 never get one). */
function keyedLines(count: number): string[] {
  const keys: string[] = [];
  for (let candidate = 0; keys.length < 8; candidate++) {
    if (keyPartition(`user-${candidate}`, PARTITIONS, 'JavaStringHash') < 2) keys.push(`user-${candidate}`);
  }
  return Array.from({ length: count }, (_, i) => JSON.stringify({ user: keys[i % keys.length], i }));
}

const ADDED_PARTITIONS = /partitions, \d+ when this input was last published/;

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
async function publishFile(
  pulsar: PulsarWsClient,
  topic: string,
  file: string,
  checkpoint: CheckpointStore,
  keyField?: string,
) {
  await upgradeCheckpointEntry(pulsar, topic, file, checkpoint, undefined);
  const source = await FileSource.open(file, {
    checkpoint,
    ...(keyField === undefined ? {} : { format: 'ndjson' as const, keyField }),
  });
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
    expect(await savedEntry(path)).toMatchObject({
      messages: 600,
      sequenceIds: [149, 149, 149, 149],
      partitions: PARTITIONS,
    });
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

  it('keys that never reach the last partitions: the entry still names every partition, and a rerun does not warn', async () => {
    const dir = await tempDir();
    const topic = await partitionedDedupTopic();
    const file = join(dir, 'in.ndjson');
    const lines = keyedLines(400);
    await writeFile(file, `${lines.slice(0, 250).join('\n')}\n`);
    const path = join(dir, 'checkpoint.json');
    const warnings: string[] = [];
    const pulsar = client(warnings);
    await publishFile(pulsar, topic, file, await CheckpointStore.open(path), 'user');
    const entry = await savedEntry(path);
    expect(entry).toMatchObject({ messages: 250, partitions: PARTITIONS });
    expect(entry?.sequenceIds?.slice(2)).toEqual([-1, -1]);
    await writeFile(file, `${lines.join('\n')}\n`);
    await publishFile(pulsar, topic, file, await CheckpointStore.open(path), 'user');
    expect(warnings.filter((warning) => ADDED_PARTITIONS.test(warning))).toEqual([]);
    const stored = await allPartitions(topic);
    expect(expectAllDelivered('keyed rerun', stored, lines)).toBe(0);
  });

  it('an entry written before the partition count was recorded (a short sequenceIds) is completed, without a false warning', async () => {
    const dir = await tempDir();
    const topic = await partitionedDedupTopic();
    const file = join(dir, 'in.ndjson');
    const lines = keyedLines(400);
    await writeFile(file, `${lines.slice(0, 250).join('\n')}\n`);
    const path = join(dir, 'checkpoint.json');
    const warnings: string[] = [];
    const pulsar = client(warnings);
    await publishFile(pulsar, topic, file, await CheckpointStore.open(path), 'user');
    // What the version before wrote: only as many sequence ids as the highest partition reached.
    const saved = JSON.parse(await readFile(path, 'utf8')) as {
      version: 1;
      files: Record<string, SavedEntry>;
    };
    for (const entry of Object.values(saved.files)) {
      entry.sequenceIds = entry.sequenceIds?.slice(0, 2);
      delete entry.partitions;
    }
    await writeFile(path, JSON.stringify(saved));
    await writeFile(file, `${lines.join('\n')}\n`);
    await publishFile(pulsar, topic, file, await CheckpointStore.open(path), 'user');
    expect(warnings.filter((warning) => ADDED_PARTITIONS.test(warning))).toEqual([]);
    expect(await savedEntry(path)).toMatchObject({ messages: 400, partitions: PARTITIONS });
    expect((await savedEntry(path))?.sequenceIds?.slice(2)).toEqual([-1, -1]);
    const stored = await allPartitions(topic);
    expect(expectAllDelivered('older entry completed', stored, lines)).toBe(0);
  });

  it('a topic that really gained partitions since the entry was written: the warning says what changes and what to do', async () => {
    const dir = await tempDir();
    const topic = await partitionedDedupTopic();
    const file = join(dir, 'in.txt');
    const lines = Array.from({ length: 40 }, (_, i) => `line-${i}`);
    await writeFile(file, `${lines.join('\n')}\n`);
    const info = await stat(file);
    const offset = Buffer.byteLength(`${lines.slice(0, 20).join('\n')}\n`);
    const path = join(dir, 'checkpoint.json');
    // Written when the topic had 2 partitions (the embedded broker cannot add partitions: the
    // entry says what a topic that gained two would look like). Sequence ids stay above what the
    // new partitions' producers stored, so nothing here is dropped as a duplicate.
    const entry = { dev: info.dev, ino: info.ino, offset, messages: 20, sequenceIds: [9, 9], partitions: 2 };
    await writeFile(path, JSON.stringify({ version: 1, files: { [file]: entry } }));
    const warnings: string[] = [];
    await publishFile(client(warnings), topic, file, await CheckpointStore.open(path));
    const warning = warnings.find((text) => ADDED_PARTITIONS.test(text));
    expect(warning).toContain(`has ${PARTITIONS} partitions, 2 when this input was last published`);
    expect(warning).toMatch(/a key's hash, or a keyless message's input position, modulo the count/);
    expect(warning).toMatch(/stored twice; nothing is lost/);
    expect(warning).toMatch(/add partitions only once the producer of this input has finished/);
    expect(await savedEntry(path)).toMatchObject({ messages: 40, partitions: PARTITIONS });
    expect((await savedEntry(path))?.sequenceIds).toHaveLength(PARTITIONS);
    expect(await allPartitions(topic)).toHaveLength(20);
  });

  it('an entry whose partition count does not fit its sequence ids is refused, naming the file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'checkpoint.json');
    const entry = { dev: 1, ino: 2, offset: 0, messages: 3, sequenceIds: [1, 2, 3], partitions: 2 };
    await writeFile(path, JSON.stringify({ version: 1, files: { '/data/in.txt': entry } }));
    const error = await CheckpointStore.open(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(String(error)).toContain(`checkpoint ${path}: the entry of /data/in.txt is malformed`);
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

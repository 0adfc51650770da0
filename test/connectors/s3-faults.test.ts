/**
 * The S3 sink on the worst day, against VersityGW (started here) and the embedded broker: an
 * interval flush racing 20,000 × 10 KB messages (it used to hang), the S3 server stopped
 * mid-stream, a spool folder that is read-only or fills up mid-run. Each time: the command exits with a clear
 * message, nothing that was not uploaded is acknowledged (what the subscription redelivers is
 * exactly what is missing from the bucket), and no spool file stays open or on disk.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limit } from '../../src/cli/limit.js';
import { S3Sink } from '../../src/connectors/s3-sink.js';
import { EmbeddedBroker } from '../../src/broker/index.js';
import { PulsarWsClient, encodeMessageId, type ConsumerMessage } from '../../src/index.js';
import { messageIdOf } from '../../src/protocol/index.js';
import { Tracked } from '../../src/streams/tracked.js';
import { CLI_PATH } from '../helpers/broker-process.js';
import { fillDisk, mountTmpfs, tmpfsUnavailable } from '../helpers/mounts.js';
import { titled, versitygwMissing } from '../helpers/prerequisites.js';
import { useS3Server } from '../helpers/s3-server.js';

const s3Missing = versitygwMissing();
const s3 = useS3Server();
let broker: EmbeddedBroker;
let brokerDir: string;
let counter = 0;

beforeAll(async () => {
  brokerDir = await mkdtemp(join(tmpdir(), 'pws-s3-faults-'));
  broker = await EmbeddedBroker.start({ port: 0, dataDir: brokerDir, fsync: 'never' });
});
afterAll(async () => {
  await broker.stop();
  await rm(brokerDir, { recursive: true, force: true });
});

function client(): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

async function newBucket(): Promise<string> {
  const bucket = `faults-${process.pid}-${++counter}`;
  await client().send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** The record ids (first 6 bytes of each line) in every object of the bucket. */
async function uploadedIds(bucket: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const listed = await client().send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const { Key } of listed.Contents ?? []) {
    const object = await client().send(new GetObjectCommand({ Bucket: bucket, Key }));
    const text = Buffer.from((await object.Body?.transformToByteArray()) ?? []).toString();
    for (const line of text.split('\n')) if (line !== '') ids.add(line.slice(0, 6));
  }
  return ids;
}

/** A record: a 6-digit id, then padding to `bytes`. */
function record(index: number, bytes: number): Buffer {
  return Buffer.from(`${String(index).padStart(6, '0')} ${'x'.repeat(bytes - 7)}`);
}

async function publish(topic: string, from: number, to: number, bytes: number): Promise<void> {
  const pulsar = new PulsarWsClient({ url: broker.url });
  try {
    await pipeline(
      Readable.from(
        (function* () {
          for (let i = from; i < to; i++) yield record(i, bytes);
        })(),
      ),
      pulsar.producer(topic),
    );
  } finally {
    await pulsar.close();
  }
}

/** The ids the subscription still delivers: what was never acknowledged. */
async function unacknowledged(topic: string, subscription: string): Promise<string[]> {
  const pulsar = new PulsarWsClient({ url: broker.url });
  const ids: string[] = [];
  try {
    const consumer = pulsar.consumer(topic, subscription, { ackMode: 'manual', highWaterMark: 500 });
    for await (const message of limit<ConsumerMessage>({ idleMs: 1500 })(consumer)) {
      ids.push(message.payload.subarray(0, 6).toString());
    }
  } finally {
    await pulsar.close();
  }
  return ids;
}

const ids = (from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => String(from + i).padStart(6, '0'));

interface Run {
  readonly code: number | null;
  readonly stderr: string;
}

/** Runs `topic-to-s3`; `onStderr` sees its log as it comes; `kill` sends it a signal. */
function topicToS3(
  args: string[],
  onStderr: (text: string) => void = () => undefined,
): Promise<Run> & { kill: (signal: NodeJS.Signals) => void } {
  const child = spawn(
    process.execPath,
    [CLI_PATH, 'topic-to-s3', '--url', broker.url, '--endpoint', s3.endpoint, '--format', 'lines', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_REGION: s3.region,
      },
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    onStderr(stderr);
  });
  const exited = new Promise<Run>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return Object.assign(exited, { kill: (signal: NodeJS.Signals) => void child.kill(signal) });
}

/** Descriptors this process holds on files under `dir`. */
async function openFilesUnder(dir: string): Promise<string[]> {
  const targets = await Promise.all(
    (await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
  );
  return targets.filter((target) => target.startsWith(dir));
}

/** Waits until the sink's spool folder under `dir` holds no file (every object uploaded and removed). */
async function spoolEmptied(dir: string): Promise<void> {
  for (;;) {
    const folders = await readdir(dir);
    const files = await Promise.all(folders.map((folder) => readdir(join(dir, folder)).catch(() => [])));
    if (files.every((names) => names.length === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.skipIf(s3Missing !== undefined)(titled('topic-to-s3 on the worst day', s3Missing), () => {
  it('--batch-interval 1 while 20,000 × 10 KB messages stream in: uploads every message, exits 0', async () => {
    const bucket = await newBucket();
    const topic = `interval-race-${++counter}`;
    const consuming = topicToS3([
      ...['--topic', topic, '--subscription', 's', '--bucket', bucket],
      ...['--batch-interval', '1', '--batch-count', '3000', '--count', '20000', '--log-level', 'warn'],
    ]);
    await publish(topic, 0, 20_000, 10 * 1024);
    const run = await consuming;
    expect(run.code, run.stderr).toBe(0);
    const uploaded = await uploadedIds(bucket);
    expect(ids(0, 20_000).filter((id) => !uploaded.has(id))).toEqual([]);
    // Every message was acknowledged: nothing comes again.
    expect(await unacknowledged(topic, 's')).toEqual([]);
  }, 300_000);

  it('S3 server stopped mid-stream: exits 1 naming the upload, acknowledges only what was uploaded', async () => {
    const bucket = await newBucket();
    const topic = `server-stopped-${++counter}`;
    const spool = await mkdtemp(join(tmpdir(), 'pws-spool-'));
    try {
      await publish(topic, 0, 1000, 1024);
      let stopping: Promise<void> | undefined;
      let published: Promise<void> | undefined;
      const run = await topicToS3(
        [
          ...['--topic', topic, '--subscription', 's', '--bucket', bucket, '--spool-dir', spool],
          ...['--batch-count', '500', '--log-level', 'info'],
        ],
        (stderr) => {
          // Both batches of the first 1000 are uploaded: stop the server, then publish more.
          if (stopping === undefined && stderr.split('object uploaded').length - 1 >= 2) {
            stopping = s3.stop();
            published = stopping.then(() => publish(topic, 1000, 2000, 1024));
          }
        },
      );
      await published;
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/upload of s3:\/\/faults-[\w-]+\/\S+ failed: .*\(PWS_ERR_CONNECTOR\)/);
      expect(await readdir(spool)).toEqual([]);
      await s3.start();
      const uploaded = await uploadedIds(bucket);
      expect([...uploaded].sort()).toEqual(ids(0, 1000));
      // What was not uploaded was not acknowledged: the subscription delivers exactly that.
      expect((await unacknowledged(topic, 's')).sort()).toEqual(ids(1000, 2000));
    } finally {
      await s3.start().catch(() => undefined);
      await rm(spool, { recursive: true, force: true });
    }
  }, 120_000);

  it('SIGTERM uploads the open batch, acknowledges it and exits 0', async () => {
    const bucket = await newBucket();
    const topic = `signal-${++counter}`;
    const spool = await mkdtemp(join(tmpdir(), 'pws-spool-'));
    try {
      await publish(topic, 0, 10, 1024);
      const running = topicToS3([
        ...['--topic', topic, '--subscription', 's', '--bucket', bucket, '--spool-dir', spool],
        ...['--batch-count', '1000', '--batch-interval', '3600', '--log-level', 'warn'],
      ]);
      // All ten records are in the open batch's spool file: the batch is open, not uploaded.
      for (;;) {
        const [folder] = await readdir(spool);
        const size =
          folder === undefined
            ? 0
            : await stat(join(spool, folder, 'object-1')).then(
                (s) => s.size,
                () => 0,
              );
        if (size >= 10 * 1024) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      running.kill('SIGTERM');
      const run = await running;
      expect(run.code, run.stderr).toBe(0);
      expect([...(await uploadedIds(bucket))].sort()).toEqual(ids(0, 10));
      expect(await unacknowledged(topic, 's')).toEqual([]);
      expect(await readdir(spool)).toEqual([]);
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  }, 60_000);

  it.skipIf(tmpfsUnavailable !== undefined)(
    `spool folder fills up mid-run (ENOSPC): exits 1 naming the spool file, acknowledges only what was uploaded; a rerun once space is freed uploads the rest${tmpfsUnavailable === undefined ? '' : ` (skipped: ${tmpfsUnavailable})`}`,
    async () => {
      const bucket = await newBucket();
      const topic = `spool-full-${++counter}`;
      const mount = await mountTmpfs(1024 * 1024);
      try {
        await publish(topic, 0, 1000, 1024);
        const args = [
          ...['--topic', topic, '--subscription', 's', '--bucket', bucket, '--spool-dir', mount.dir],
          ...['--batch-count', '500', '--log-level', 'info'],
        ];
        let filled: Promise<string> | undefined;
        let published: Promise<void> | undefined;
        const running = topicToS3(args, (stderr) => {
          // Both batches of the first 1000 are uploaded: once their spool files are gone, fill the
          // spool's disk, then publish more.
          if (filled === undefined && stderr.split('object uploaded').length - 1 >= 2) {
            filled = spoolEmptied(mount.dir).then(() => fillDisk(mount.dir));
            published = filled.then(() => publish(topic, 1000, 2000, 1024));
          }
        });
        // It fails on its own; should it not, the test fails instead of waiting forever.
        const stuck = setTimeout(() => running.kill('SIGKILL'), 60_000);
        const run = await running.finally(() => clearTimeout(stuck));
        await published;
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(
          new RegExp(
            `cannot write spool file ${mount.dir}/pulsar-ws-s3-\\w+/object-\\d+: ENOSPC.*\\(PWS_ERR_CONNECTOR\\)`,
          ),
        );
        expect(run.stderr).not.toMatch(/unhandled/i);
        // The spool folder is gone with its files; only the filler is left.
        expect(await readdir(mount.dir)).toEqual(['filler']);
        expect([...(await uploadedIds(bucket))].sort()).toEqual(ids(0, 1000));
        // What was not uploaded was not acknowledged: the subscription delivers exactly that.
        expect((await unacknowledged(topic, 's')).sort()).toEqual(ids(1000, 2000));
        await rm(await (filled ?? Promise.resolve(join(mount.dir, 'filler'))));
        const rerun = await topicToS3([...args, '--idle-exit', '2']);
        expect(rerun.code, rerun.stderr).toBe(0);
        expect([...(await uploadedIds(bucket))].sort()).toEqual(ids(0, 2000));
        expect(await unacknowledged(topic, 's')).toEqual([]);
      } finally {
        await mount.remove();
      }
    },
    120_000,
  );

  it.skipIf(tmpfsUnavailable !== undefined)(
    `spool folder read-only: exits 1 naming the folder, acknowledges nothing${tmpfsUnavailable === undefined ? '' : ` (skipped: ${tmpfsUnavailable})`}`,
    async () => {
      const bucket = await newBucket();
      const topic = `spool-read-only-${++counter}`;
      const mount = await mountTmpfs(1024 * 1024);
      try {
        await mount.readOnly();
        await publish(topic, 0, 100, 1024);
        const run = await topicToS3([
          ...['--topic', topic, '--subscription', 's', '--bucket', bucket, '--spool-dir', mount.dir],
          ...['--log-level', 'warn'],
        ]);
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(`cannot create a spool folder in ${mount.dir}: EROFS`);
        expect(await uploadedIds(bucket)).toEqual(new Set());
        expect((await unacknowledged(topic, 's')).sort()).toEqual(ids(0, 100));
      } finally {
        await mount.remove();
      }
    },
    60_000,
  );
});

describe.skipIf(s3Missing !== undefined)(
  titled('S3 sink spool faults (in process: open descriptors counted)', s3Missing),
  () => {
    const message = (entry: number, hour: string): ConsumerMessage => ({
      payload: record(entry, 64 * 1024),
      messageId: encodeMessageId(messageIdOf(9, entry)),
      properties: {},
      publishTime: new Date(`2026-11-25T${hour}:00:00Z`),
      redeliveryCount: 0,
      ack: () => undefined,
      nack: () => undefined,
    });

    it.skipIf(tmpfsUnavailable !== undefined)(
      `spool folder full (ENOSPC) with two objects open: fails naming the file, acks nothing, closes and removes both${tmpfsUnavailable === undefined ? '' : ` (skipped: ${tmpfsUnavailable})`}`,
      async () => {
        const bucket = await newBucket();
        const mount = await mountTmpfs(1024 * 1024);
        try {
          const acked: number[] = [];
          // Alternating hours: two objects (two key prefixes) open at once; 40 × 64 KB > 1 MiB.
          const messages = Array.from({ length: 40 }, (_, i) => message(i, i % 2 === 0 ? '10' : '11'));
          await expect(
            pipeline(
              Readable.from(messages.map((m, i) => new Tracked(m, () => acked.push(i)))),
              new S3Sink({ bucket, topic: 'events', client: client(), format: 'lines', spoolDir: mount.dir }),
            ),
          ).rejects.toThrow(/s3: cannot write spool file .*ENOSPC/);
          expect(acked).toEqual([]);
          expect(await openFilesUnder(mount.dir)).toEqual([]);
          expect(await readdir(mount.dir)).toEqual([]);
          expect(await uploadedIds(bucket)).toEqual(new Set());
        } finally {
          await mount.remove();
        }
      },
      60_000,
    );

    it('upload refused with two objects open: fails naming the upload, acks nothing, closes and removes both', async () => {
      const bucket = await newBucket();
      const spool = await mkdtemp(join(tmpdir(), 'pws-spool-'));
      const refusing = client();
      refusing.middlewareStack.add(() => () => Promise.reject(new Error('injected: access denied')), {
        step: 'initialize',
        name: 'refuseEverything',
      });
      try {
        const acked: number[] = [];
        const messages = Array.from({ length: 10 }, (_, i) => message(i, i % 2 === 0 ? '10' : '11'));
        await expect(
          pipeline(
            Readable.from(messages.map((m, i) => new Tracked(m, () => acked.push(i)))),
            new S3Sink({ bucket, topic: 'events', client: refusing, format: 'lines', spoolDir: spool }),
          ),
        ).rejects.toThrow(/upload of s3:\/\/.* failed: injected: access denied/);
        expect(acked).toEqual([]);
        expect(await openFilesUnder(spool)).toEqual([]);
        expect(await readdir(spool)).toEqual([]);
      } finally {
        await rm(spool, { recursive: true, force: true });
      }
    });
  },
);

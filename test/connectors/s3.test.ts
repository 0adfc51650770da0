/**
 * S3 sink against a real S3-compatible server (VersityGW, started here): templated keys (one batch
 * split by hour), gzip round trip, a forced upload failure that acknowledges nothing and leaves no
 * object or multipart upload, a redelivered batch that overwrites instead of duplicating, and the
 * credentials taken from the standard AWS environment variables.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { S3Sink, type S3SinkOptions } from '../../src/connectors/s3-sink.js';
import { EmbeddedBroker } from '../../src/broker/index.js';
import { encodeMessageId } from '../../src/index.js';
import { messageIdOf } from '../../src/protocol/index.js';
import { Tracked } from '../../src/streams/tracked.js';
import type { ConsumerMessage } from '../../src/index.js';
import { CLI_PATH } from '../helpers/broker-process.js';
import { publishAll, range } from '../helpers/publish.js';
import { titled, versitygwMissing } from '../helpers/prerequisites.js';
import { useS3Server } from '../helpers/s3-server.js';

const s3 = useS3Server();
const s3Missing = versitygwMissing();
let buckets = 0;

function client(): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

async function newBucket(): Promise<string> {
  const bucket = `sink-${process.pid}-${++buckets}`;
  await client().send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

async function keys(bucket: string): Promise<string[]> {
  const listed = await client().send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((object) => object.Key ?? '').sort();
}

async function body(bucket: string, key: string): Promise<Buffer> {
  const object = await client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
}

function message(entry: number, publishTime: string, payload = `m${entry}`): ConsumerMessage {
  return {
    payload: Buffer.from(payload),
    messageId: encodeMessageId(messageIdOf(7, entry)),
    properties: {},
    publishTime: new Date(publishTime),
    redeliveryCount: 0,
    ack: () => undefined,
    nack: () => undefined,
  };
}

/** Messages as tracked values recording their acks. */
function tracked(messages: ConsumerMessage[], acked: number[]): Tracked<ConsumerMessage>[] {
  return messages.map((m, i) => new Tracked(m, () => acked.push(i)));
}

function sink(bucket: string, options: Partial<S3SinkOptions> = {}): S3Sink {
  return new S3Sink({ bucket, topic: 'persistent://public/default/events', client: client(), ...options });
}

describe.skipIf(s3Missing !== undefined)(titled('S3 sink', s3Missing), () => {
  it('objects appear under templated keys; a batch spanning two hours splits into two objects', async () => {
    const bucket = await newBucket();
    const messages = [
      message(0, '2026-11-25T09:59:58Z'),
      message(1, '2026-11-25T09:59:59Z'),
      message(2, '2026-11-25T10:00:00Z'),
      message(3, '2026-11-25T10:00:01Z'),
    ];
    const acked: number[] = [];
    await pipeline(
      Readable.from(tracked(messages, acked)),
      sink(bucket, { prefix: 'raw/', format: 'lines', batchCount: 4 }),
    );
    expect(acked.sort()).toEqual([0, 1, 2, 3]);
    expect(await keys(bucket)).toEqual([
      'raw/events/2026-11-25/09/7-0_7-1.txt',
      'raw/events/2026-11-25/10/7-2_7-3.txt',
    ]);
    expect((await body(bucket, 'raw/events/2026-11-25/10/7-2_7-3.txt')).toString()).toBe('m2\nm3\n');
  });

  it('gzip round trip of NDJSON envelopes', async () => {
    const bucket = await newBucket();
    const messages = Array.from({ length: 50 }, (_, i) => message(i, '2026-11-25T12:00:00Z', `payload-${i}`));
    await pipeline(Readable.from(messages), sink(bucket, { gzip: true }));
    const [key] = await keys(bucket);
    expect(key).toBe('events/2026-11-25/12/7-0_7-49.ndjson.gz');
    const lines = gunzipSync(await body(bucket, key ?? ''))
      .toString()
      .trim()
      .split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { payload: string }).payload)).toEqual(
      messages.map((m) => m.payload.toString()),
    );
  });

  it('a forced upload failure (a part refused mid-multipart) acks nothing and leaves no object or upload', async () => {
    const bucket = await newBucket();
    const failing = client();
    let parts = 0;
    failing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UploadPartCommand' && ++parts === 2)
          throw new Error('injected: part 2 refused');
        return next(args);
      },
      { step: 'initialize', name: 'failSecondPart' },
    );
    // 6 MiB of messages in one object: two 5 MiB parts.
    const big = 'x'.repeat(64 * 1024);
    const messages = Array.from({ length: 96 }, (_, i) => message(i, '2026-11-25T12:00:00Z', big));
    const acked: number[] = [];
    await expect(
      pipeline(
        Readable.from(tracked(messages, acked)),
        sink(bucket, { client: failing, format: 'lines', partSize: 5 * 1024 * 1024 }),
      ),
    ).rejects.toThrow(/upload of s3:\/\/.* failed: injected: part 2 refused/);
    expect(acked).toEqual([]);
    expect(await keys(bucket)).toEqual([]);
    const uploads = await client().send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('a redelivered batch overwrites its object instead of creating a second one', async () => {
    const bucket = await newBucket();
    const batch = () => Array.from({ length: 5 }, (_, i) => message(i, '2026-11-25T12:00:00Z'));
    await pipeline(Readable.from(batch()), sink(bucket));
    await pipeline(Readable.from(batch()), sink(bucket));
    expect(await keys(bucket)).toEqual(['events/2026-11-25/12/7-0_7-4.ndjson']);
  });

  it('credentials, region and endpoint from the standard AWS environment variables', async () => {
    const bucket = await newBucket();
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
    });
    try {
      await pipeline(
        Readable.from([message(0, '2026-11-25T12:00:00Z')]),
        new S3Sink({ bucket, topic: 'events', client: { forcePathStyle: true } }),
      );
    } finally {
      process.env = saved;
    }
    expect(await keys(bucket)).toEqual(['events/2026-11-25/12/7-0_7-0.ndjson']);
  });
});

describe.skipIf(s3Missing !== undefined)(
  titled('topic-to-s3 (CLI) against the embedded broker', s3Missing),
  () => {
    it('consumes a topic into objects and acknowledges them once uploaded', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'pws-s3-cli-'));
      const broker = await EmbeddedBroker.start({ port: 0, dataDir: dir, fsync: 'never' });
      try {
        const bucket = await newBucket();
        await publishAll({ wsUrl: broker.url, adminUrl: broker.httpUrl, embedded: true }, 'to-s3', range(25));
        const env = {
          ...process.env,
          AWS_ACCESS_KEY_ID: s3.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
          AWS_REGION: s3.region,
        };
        const { stderr } = await promisify(execFile)(
          process.execPath,
          [
            CLI_PATH,
            'topic-to-s3',
            '--url',
            broker.url,
            '--topic',
            'to-s3',
            '--subscription',
            's',
            '--bucket',
            bucket,
            '--endpoint',
            s3.endpoint,
            '--batch-count',
            '10',
            '--count',
            '25',
            '--format',
            'lines',
            '--log-level',
            'warn',
          ],
          { env, timeout: 30_000 },
        );
        expect(stderr).toBe('');
        const stored = await keys(bucket);
        expect(stored).toHaveLength(3);
        const contents = (await Promise.all(stored.map((key) => body(bucket, key)))).map(String).join('');
        expect(contents.split('\n').filter(Boolean).sort()).toEqual(range(25).sort());
      } finally {
        await broker.stop();
        await rm(dir, { recursive: true, force: true });
      }
    }, 60_000);
  },
);

/**
 * S3 sink: a subscription batched into gzipped NDJSON objects under templated keys; each message is
 * acknowledged once its object is uploaded. Uses S3_ENDPOINT (with AWS_ACCESS_KEY_ID/SECRET), or
 * starts the VersityGW that `scripts/s3/install.sh` puts in .tools/bin.
 *
 *   node examples/s3-sink.ts        (uses PULSAR_WS_URL, or starts an embedded broker)
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { PulsarWsClient, type ConsumerMessage } from 'pulsar-ws-streams';
import { EmbeddedBroker } from 'pulsar-ws-streams/broker';
import { S3Sink } from 'pulsar-ws-streams/connectors';

const dir = await mkdtemp(join(tmpdir(), 'pulsar-ws-s3-'));
let endpoint = process.env.S3_ENDPOINT;
const gateway =
  endpoint === undefined
    ? spawn(
        new URL('../.tools/bin/versitygw', import.meta.url).pathname,
        ['--port', '127.0.0.1:17070', 'posix', '--sidecar', join(dir, 'meta'), join(dir, 'data')],
        {
          env: { ...process.env, ROOT_ACCESS_KEY_ID: 'testkey', ROOT_SECRET_ACCESS_KEY: 'testsecret' },
          stdio: 'ignore',
        },
      )
    : undefined;
if (gateway !== undefined) {
  await mkdir(join(dir, 'meta'), { recursive: true });
  await mkdir(join(dir, 'data'), { recursive: true });
  endpoint = 'http://127.0.0.1:17070';
  while (
    !(await fetch(endpoint).then(
      () => true,
      () => false,
    ))
  )
    await new Promise((resolve) => setTimeout(resolve, 100));
}
const s3 = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testkey',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testsecret',
  },
});
const broker = process.env.PULSAR_WS_URL
  ? undefined
  : await EmbeddedBroker.start({ dataDir: join(dir, 'broker'), port: 0 });
const client = new PulsarWsClient({ url: process.env.PULSAR_WS_URL ?? broker?.url ?? '' });
const topic = `clicks-${Date.now().toString(36)}`;
const bucket = `example-${Date.now().toString(36)}`;

try {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await pipeline(Readable.from(Array.from({ length: 25 }, (_, i) => `click ${i}`)), client.producer(topic));
  async function* first25(messages: AsyncIterable<ConsumerMessage>) {
    let count = 0;
    for await (const message of messages) {
      yield message;
      if (++count === 25) return;
    }
  }
  const sink = new S3Sink({ bucket, topic, client: s3, gzip: true, batchCount: 10, prefix: 'clicks/' });
  await pipeline(client.consumer(topic, 'to-s3', { subscriptionInitialPosition: 'Earliest' }), first25, sink);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const object of listed.Contents ?? [])
    console.log(`s3://${bucket}/${object.Key} (${object.Size} bytes)`);
} finally {
  await client.close();
  await broker?.stop();
  gateway?.kill();
  await rm(dir, { recursive: true, force: true });
}

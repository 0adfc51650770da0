/**
 * The sink end of a pipeline, built from its config with the connectors' public API: a producer, a
 * file, stdout or S3. S3 sinks check first that their bucket exists, so a missing bucket fails the
 * pipeline at once (and it restarts with backoff) instead of after the first batch.
 */
import type { Writable } from 'node:stream';
import { HeadBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { FileSink } from '../connectors/file-sink.js';
import { S3Sink, type S3UploadEvent } from '../connectors/s3-sink.js';
import { stdoutSink } from '../connectors/stdin.js';
import { ConnectorError } from '../errors.js';
import type { ProducerOptions, PulsarWsClient } from '../index.js';
import type { SinkConfig } from './config-schema.js';

type S3SinkConfig = Extract<SinkConfig, { type: 's3' }>;

/** What building a sink needs; `onS3Upload` counts objects. */
export interface SinkContext {
  readonly client: PulsarWsClient;
  readonly logger: Logger;
  readonly onS3Upload: (event: S3UploadEvent) => void;
}

function s3ClientConfig(sink: S3SinkConfig): S3ClientConfig {
  return {
    ...(sink.endpoint === undefined ? {} : { endpoint: sink.endpoint }),
    ...(sink.region === undefined ? {} : { region: sink.region }),
    forcePathStyle: sink.pathStyle || sink.endpoint !== undefined,
  };
}

/**
 * Fails when the bucket does not exist. Other refusals (a policy that allows PutObject but not
 * ListBucket answers 403) are logged and left to the first upload.
 */
async function checkBucket(s3: S3Client, bucket: string, logger: Logger): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchBucket') {
      throw new ConnectorError('s3', `bucket ${JSON.stringify(bucket)} does not exist`, { cause: error });
    }
    logger.warn({ bucket, err: error }, 'cannot check the bucket; the first upload will tell');
  }
}

/**
 * A sink for messages consumed from a topic (or a producer for a publishing source). `sourceTopic`
 * fills the S3 key template's {topic} of messages that do not carry their own topic.
 */
export async function openSink(
  sink: SinkConfig,
  context: SinkContext,
  sourceTopic: string | undefined,
  producerOptions: ProducerOptions = {},
): Promise<Writable> {
  switch (sink.type) {
    case 'topic':
      return context.client.producer(sink.topic, { maxInFlight: sink.maxInFlight, ...producerOptions });
    case 'file':
      return FileSink.open(sink.path, {
        format: sink.format,
        fsyncIntervalMs: sink.fsyncInterval,
        ...(sink.rotateSize === undefined ? {} : { rotateBytes: sink.rotateSize }),
        ...(sink.rotateInterval === undefined ? {} : { rotateIntervalMs: sink.rotateInterval }),
        logger: context.logger,
      });
    case 'stdout':
      return stdoutSink(sink.format);
    case 's3': {
      const s3 = new S3Client(s3ClientConfig(sink));
      await checkBucket(s3, sink.bucket, context.logger);
      const s3Sink = new S3Sink({
        bucket: sink.bucket,
        prefix: sink.prefix,
        keyTemplate: sink.keyTemplate,
        ...(sourceTopic === undefined ? {} : { topic: sourceTopic }),
        format: sink.format,
        gzip: sink.gzip,
        batchCount: sink.batchCount,
        batchBytes: sink.batchBytes,
        batchIntervalMs: sink.batchInterval,
        timeField: sink.timeField,
        client: s3,
        logger: context.logger,
      });
      s3Sink.on('upload', context.onS3Upload);
      return s3Sink;
    }
  }
}

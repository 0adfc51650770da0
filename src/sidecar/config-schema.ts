/**
 * The sidecar's config file as a zod schema: every key, its type, default and description (the
 * description feeds the reference in docs/sidecar.md, which a test keeps in step with this file).
 * Durations and sizes are strings (`60s`, `64MiB`) turned into milliseconds and bytes
 * (config-fields.ts). The `publish` section and the `topic` source have modules of their own
 * (config-publish.ts, config-topic-source.ts). Objects are strict: an unknown key is a problem, not
 * something silently ignored.
 */
import * as z from 'zod';
import { FRAMINGS, type Framing } from '../connectors/framing.js';
import { DEFAULT_KEY_TEMPLATE } from '../connectors/s3-sink.js';
import { SINK_FORMATS, type SinkFormat } from '../connectors/sink-format.js';
import { MAX_RECEIVER_QUEUE_SIZE } from '../protocol/index.js';
import { PIPE_READER_QUEUE_SIZE } from '../streams/reader-stream.js';
import {
  duration,
  httpIntakeBounds,
  listenAddress,
  port,
  positiveInt,
  receiverQueueSize,
  size,
  url,
} from './config-fields.js';
import { checkPublish, publishSchema } from './config-publish.js';
import { checkTopicSource, topicSource } from './config-topic-source.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const framing = {
  format: z
    .enum(FRAMINGS as readonly [Framing, ...Framing[]])
    .default('lines')
    .describe('How input becomes messages: lines, ndjson or raw'),
  chunkBytes: size('raw: one message per this many bytes (default: the whole input)').optional(),
  keyField: z.string().optional().describe('ndjson: the field whose value is the message key'),
  propertiesField: z
    .string()
    .optional()
    .describe('ndjson: the field (an object) holding the message properties'),
};

const sinkFormat = (fallback: SinkFormat) =>
  z
    .enum(SINK_FORMATS as readonly [SinkFormat, ...SinkFormat[]])
    .default(fallback)
    .describe('lines: payload + newline; ndjson: an envelope per message');

const fileSource = z.strictObject({
  type: z.literal('file'),
  path: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe('File, glob or list of them (globs are expanded at start)'),
  follow: z.boolean().default(false).describe('Keep tailing the files (rotation and truncation survive)'),
  checkpoint: z
    .string()
    .optional()
    .describe('File recording acknowledged progress; a restart resumes after it'),
  ...framing,
});

const stdinSource = z.strictObject({ type: z.literal('stdin'), ...framing });

const webhookSource = z.strictObject({
  type: z.literal('webhook'),
  port: port('HTTP port (0: any free port)'),
  host: z.string().default('127.0.0.1').describe('Address to listen on'),
  path: z.string().startsWith('/').default('/').describe('Path that accepts POSTs'),
  secret: z.string().optional().describe('Shared secret callers send in secretHeader'),
  secretFile: z.string().optional().describe('Read the shared secret from this file'),
  secretHeader: z.string().default('x-webhook-secret').describe('Header holding the shared secret'),
  hmacSecret: z
    .string()
    .optional()
    .describe('HMAC-SHA256 key; callers send sha256=HEX-DIGEST in signatureHeader'),
  hmacSecretFile: z.string().optional().describe('Read the HMAC key from this file'),
  signatureHeader: z.string().default('x-signature-256').describe('Header holding the HMAC signature'),
  keyHeader: z.string().default('x-message-key').describe('Header holding the message key'),
  propertyHeaderPrefix: z
    .string()
    .default('x-property-')
    .describe('Headers PREFIX + name become property name'),
  maxInFlight: positiveInt('Requests handled at once (then queued, then 429)').default(64),
  ...httpIntakeBounds,
});

const readerSource = z.strictObject({
  type: z.literal('reader'),
  topic: z.string().min(1).describe('Topic (short or full name)'),
  start: z.string().default('earliest').describe('earliest, latest or a message id (exclusive)'),
  untilEnd: z.boolean().default(false).describe('Complete at the last message as of the start'),
  receiverQueueSize: receiverQueueSize(MAX_RECEIVER_QUEUE_SIZE, PIPE_READER_QUEUE_SIZE),
});

const topicSink = z.strictObject({
  type: z.literal('topic'),
  topic: z.string().min(1).describe('Topic to publish to (short or full name)'),
  dedup: z
    .boolean()
    .default(false)
    .describe('File sources: stable producer name and sequence ids per file, for topics with deduplication'),
  producerName: z.string().optional().describe('With dedup: the producer name (one file) or its prefix'),
  maxInFlight: positiveInt('Messages sent and not yet acknowledged').default(1000),
});

const fileSink = z.strictObject({
  type: z.literal('file'),
  path: z.string().min(1).describe('Output file (appended; a torn last record is repaired)'),
  format: sinkFormat('lines'),
  rotateSize: size('Rotate the file at this many bytes').optional(),
  rotateInterval: duration('Rotate a non-empty file this often').optional(),
  fsyncInterval: duration('fsync (and acknowledge) at least this often').prefault('1s'),
});

const stdoutSink = z.strictObject({ type: z.literal('stdout'), format: sinkFormat('lines') });

const s3Sink = z.strictObject({
  type: z.literal('s3'),
  bucket: z.string().min(1).describe('Target bucket'),
  prefix: z.string().default('').describe('Put before every key'),
  keyTemplate: z
    .string()
    .default(DEFAULT_KEY_TEMPLATE)
    .describe('Fields: {topic} {date} {hour} {partition} {firstId} {lastId} {ext}'),
  endpoint: url('S3-compatible endpoint URL (default: AWS, or $AWS_ENDPOINT_URL_S3)', [
    'http:',
    'https:',
  ]).optional(),
  region: z.string().optional().describe('Region (default: the AWS chain, e.g. $AWS_REGION)'),
  pathStyle: z.boolean().default(false).describe('Path-style addressing; on with endpoint'),
  batchCount: positiveInt('Upload once this many messages are batched').default(10_000),
  batchBytes: size('Upload once this many bytes are batched').prefault('64MiB'),
  batchInterval: duration('Upload a non-empty batch at least this often').prefault('60s'),
  gzip: z.boolean().default(false).describe('gzip each object (Content-Encoding: gzip, key ends in .gz)'),
  timeField: z.enum(['publish', 'event']).default('publish').describe('Time that fills {date} and {hour}'),
  format: sinkFormat('ndjson'),
});

export const sourceSchema = z.discriminatedUnion('type', [
  fileSource,
  stdinSource,
  webhookSource,
  topicSource,
  readerSource,
]);

export const sinkSchema = z.discriminatedUnion('type', [topicSink, fileSink, stdoutSink, s3Sink]);

/** Sources that produce messages to publish (they feed a topic sink only). */
const PUBLISHING_SOURCES: readonly string[] = ['file', 'stdin', 'webhook'];

export const pipelineSchema = z
  .strictObject({ source: sourceSchema, sink: sinkSchema })
  .superRefine((pipeline, context) => {
    const { source, sink } = pipeline;
    if (source.type === 'topic') checkTopicSource(source, context);
    if (PUBLISHING_SOURCES.includes(source.type) && sink.type !== 'topic') {
      context.addIssue({
        code: 'custom',
        path: ['sink', 'type'],
        message: `a ${source.type} source feeds a topic sink, not ${JSON.stringify(sink.type)}`,
      });
    }
    if (sink.type === 'topic' && sink.dedup && source.type !== 'file') {
      context.addIssue({
        code: 'custom',
        path: ['sink', 'dedup'],
        message: `dedup needs a file source (inputs re-read from a position), not ${source.type}`,
      });
    }
    if (source.type === 'webhook') {
      if (source.secret !== undefined && source.secretFile !== undefined)
        context.addIssue({
          code: 'custom',
          path: ['source', 'secretFile'],
          message: 'conflicts with secret',
        });
      if (source.hmacSecret !== undefined && source.hmacSecretFile !== undefined)
        context.addIssue({
          code: 'custom',
          path: ['source', 'hmacSecretFile'],
          message: 'conflicts with hmacSecret',
        });
    }
  });

const connectionSchema = z
  .strictObject({
    url: url('WebSocket service URL', ['ws:', 'wss:']).default('ws://localhost:8080'),
    token: z.string().optional().describe('JWT for token auth'),
    tokenFile: z
      .string()
      .optional()
      .describe('Read the JWT from this file, again at every (re)connect and on SIGHUP'),
    tls: z
      .strictObject({
        ca: z.string().optional().describe('PEM file of trusted CA certificates (wss://)'),
        cert: z.string().optional().describe('PEM client certificate (wss:// with client auth)'),
        key: z.string().optional().describe('PEM client key'),
        insecure: z.boolean().default(false).describe('Do not verify the server certificate'),
      })
      .optional()
      .describe('TLS settings'),
  })
  .superRefine((connection, context) => {
    if (connection.token !== undefined && connection.tokenFile !== undefined)
      context.addIssue({ code: 'custom', path: ['tokenFile'], message: 'conflicts with token' });
  });

const PIPELINE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export const configSchema = z
  .strictObject({
    connection: connectionSchema.prefault({}).describe('The Pulsar WebSocket service'),
    http: z
      .strictObject({
        listen: listenAddress(
          'Address of /healthz, /readyz, /metrics (and /publish without publish.listen), host:port (port 0: any free port)',
        ).prefault('127.0.0.1:9464'),
      })
      .prefault({})
      .describe('The HTTP endpoint'),
    publish: publishSchema.prefault({}).describe('POST /publish/{topic}'),
    shutdownTimeout: duration(
      'How long a drain may take before what is left is given up (redelivered)',
    ).prefault('30s'),
    stallTimeout: duration(
      'A pipeline with messages in flight and no progress for this long is not ready',
    ).prefault('2m'),
    restart: z
      .strictObject({
        initialDelay: duration('First wait before restarting a failed pipeline').prefault('1s'),
        maxDelay: duration('Longest wait between restarts (the wait doubles per failure)').prefault('1m'),
      })
      .prefault({})
      .describe('Restart backoff for failed pipelines'),
    logLevel: z.enum(LOG_LEVELS).default('info').describe('Log level (logs go to stderr)'),
    pipelines: z
      .record(
        z
          .string()
          .regex(PIPELINE_NAME, 'a pipeline name is letters, digits, _ . - (it becomes a metrics label)'),
        pipelineSchema,
      )
      .refine((pipelines) => Object.keys(pipelines).length > 0, 'at least one pipeline is needed')
      .describe('Pipelines by name'),
  })
  .superRefine((config, context) => {
    const stdin = Object.entries(config.pipelines).filter(([, p]) => p.source.type === 'stdin');
    for (const [name] of stdin.slice(1)) {
      context.addIssue({
        code: 'custom',
        path: ['pipelines', name, 'source', 'type'],
        message: `only one pipeline can read stdin (${stdin[0]?.[0]} does)`,
      });
    }
    const ports = new Map<string, string>([[`${config.http.listen.port}`, 'http.listen']]);
    checkPublish(config, ports, context);
    for (const [name, pipeline] of Object.entries(config.pipelines)) {
      if (pipeline.source.type !== 'webhook' || pipeline.source.port === 0) continue;
      const owner = ports.get(`${pipeline.source.port}`);
      if (owner !== undefined) {
        context.addIssue({
          code: 'custom',
          path: ['pipelines', name, 'source', 'port'],
          message: `port ${pipeline.source.port} is taken by ${owner}`,
        });
      }
      ports.set(`${pipeline.source.port}`, `pipelines.${name}.source`);
    }
  });

export type SidecarConfig = z.output<typeof configSchema>;
export type PipelineConfig = z.output<typeof pipelineSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;
export type SinkConfig = z.output<typeof sinkSchema>;

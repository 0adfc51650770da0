/**
 * The sidecar's config file as a zod schema: every key, its type, default and description (the
 * description feeds the reference in docs/sidecar.md, which a test keeps in step with this file).
 * Durations and sizes are strings (`60s`, `64MiB`) turned into milliseconds and bytes here. Objects
 * are strict: an unknown key is a problem, not something silently ignored.
 */
import * as z from 'zod';
import { FRAMINGS, type Framing } from '../connectors/framing.js';
import { WEBHOOK_DEFAULTS } from '../connectors/http-webhook.js';
import { DEFAULT_KEY_TEMPLATE } from '../connectors/s3-sink.js';
import { SINK_FORMATS, type SinkFormat } from '../connectors/sink-format.js';
import {
  INITIAL_POSITIONS,
  MAX_RECEIVER_QUEUE_SIZE,
  parseTopicName,
  SUBSCRIPTION_TYPES,
  TopicNameError,
} from '../protocol/index.js';
import { InvalidArgumentError } from '../errors.js';
import { PIPE_RECEIVER_QUEUE_SIZE } from '../streams/consumer-stream.js';
import { MAX_CONSUMER_TOPICS, parseTopicPattern } from '../streams/topic-selection.js';
import { PIPE_READER_QUEUE_SIZE } from '../streams/reader-stream.js';
import { isLoopbackHost } from './publish-access.js';
import { DURATION_HINT, parseDuration, parseSize, SIZE_HINT } from './units.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A duration string, parsed to milliseconds. */
function duration(description: string) {
  // Numbers are taken in so that `60` gets the duration hint (a unit is needed) rather than a type error.
  return z
    .union([z.string(), z.number()])
    .describe(`${description} (duration)`)
    .transform((text, context) => {
      const ms = typeof text === 'string' ? parseDuration(text) : undefined;
      if (ms === undefined) {
        context.addIssue({
          code: 'custom',
          message: `expected ${DURATION_HINT}, got ${JSON.stringify(text)}`,
        });
        return z.NEVER;
      }
      return ms;
    });
}

/** A size: a number of bytes or a string with a unit, parsed to bytes (> 0). */
function size(description: string) {
  return z
    .union([z.number(), z.string()])
    .describe(`${description} (size)`)
    .transform((value, context) => {
      const bytes = typeof value === 'number' ? value : parseSize(value);
      if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes <= 0) {
        context.addIssue({ code: 'custom', message: `expected ${SIZE_HINT}, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return bytes;
    });
}

function url(description: string, protocols: readonly string[]) {
  return z
    .string()
    .describe(description)
    .refine(
      (text) => {
        try {
          return protocols.includes(new URL(text).protocol);
        } catch {
          return false;
        }
      },
      {
        error: (issue) =>
          `expected a ${protocols.map((p) => `${p}//`).join(' or ')} URL, got ${JSON.stringify(issue.input)}`,
      },
    );
}

const positiveInt = (description: string) => z.number().int().positive().describe(description);
/**
 * A consumer's permit window or a reader's `receiverQueueSize`: an integer from 1 (to `max`), the
 * error naming the value.
 */
function receiverQueueSize(max: number | undefined, fallback: number) {
  const range = max === undefined ? '>= 1' : `from 1 to ${max}`;
  const error = (issue: { readonly input: unknown }) =>
    `expected an integer ${range}, got ${JSON.stringify(issue.input)}`;
  const atLeastOne = z.number().int({ error }).min(1, { error });
  return (max === undefined ? atLeastOne : atLeastOne.max(max, { error }))
    .default(fallback)
    .describe(
      `Messages buffered plus asked of the broker (the window that keeps the pipe full${max === undefined ? '' : `; at most ${max}`}); holds up to this many messages in memory`,
    );
}

/** A topic name Pulsar accepts (short or full). */
const topicName = z.string().superRefine((text, context) => {
  try {
    parseTopicName(text);
  } catch (error) {
    if (!(error instanceof TopicNameError)) throw error;
    context.addIssue({ code: 'custom', message: error.message });
  }
});

const port = (description: string) => z.number().int().min(0).max(65_535).describe(description);

/** `host:port` (or `[v6]:port`) to listen on. */
const listenAddress = (description: string) =>
  z
    .string()
    .describe(description)
    .transform((text, context) => {
      const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
      const portNumber = Number(match?.[2]);
      if (match === null || !(portNumber >= 0 && portNumber <= 65_535)) {
        context.addIssue({ code: 'custom', message: `expected host:port, got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port: portNumber };
    });

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
  maxBodyBytes: size('Larger bodies get 413').prefault('1MiB'),
  maxInFlight: positiveInt('Requests handled at once (then queued, then 429)').default(64),
  maxMessagesInFlight: positiveInt(
    'Messages of all requests handed to the producer and not yet acknowledged',
  ).default(WEBHOOK_DEFAULTS.maxMessagesInFlight),
  maxRequestMessagesInFlight: positiveInt(
    'Messages of one request handed to the producer and not yet acknowledged',
  ).default(WEBHOOK_DEFAULTS.maxRequestMessagesInFlight),
});

/** A `topicsPattern` the consumer accepts (see src/streams/topic-selection.ts). */
const topicsPattern = z.string().superRefine((text, context) => {
  try {
    parseTopicPattern(text);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    context.addIssue({ code: 'custom', message: error.message });
  }
});

const topicSource = z.strictObject({
  type: z.literal('topic'),
  topic: z.string().min(1).optional().describe('Topic (short or full name); or topics, or topicsPattern'),
  topics: z
    .array(z.string().min(1))
    .min(1)
    .max(MAX_CONSUMER_TOPICS)
    .optional()
    .describe('Several topics, one session each (each message keeps its topic)'),
  topicsPattern: topicsPattern
    .optional()
    .describe(
      'Every persistent topic matching this regex: persistent://<tenant>/<namespace>/<regex of local names>',
    ),
  patternAutoDiscoveryPeriod: duration('With topicsPattern: list the namespace again this often').prefault(
    '60s',
  ),
  subscription: z.string().min(1).describe('Subscription name'),
  subscriptionType: z.enum(SUBSCRIPTION_TYPES).default('Exclusive').describe('Subscription type'),
  initialPosition: z.enum(INITIAL_POSITIONS).default('Earliest').describe('Where a new subscription starts'),
  receiverQueueSize: receiverQueueSize(undefined, PIPE_RECEIVER_QUEUE_SIZE),
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
    if (source.type === 'topic') {
      const given = (['topic', 'topics', 'topicsPattern'] as const).filter(
        (key) => source[key] !== undefined,
      );
      if (given.length !== 1) {
        context.addIssue({
          code: 'custom',
          path: ['source', given[1] ?? 'topic'],
          message:
            given.length === 0
              ? 'a topic source needs topic, topics or topicsPattern'
              : `give one of topic, topics and topicsPattern, not ${given.join(' and ')}`,
        });
      }
    }
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

const publishSchema = z.strictObject({
  enabled: z.boolean().default(false).describe('Serve POST /publish/{topic}'),
  listen: listenAddress(
    'A listener of its own for POST /publish, host:port (default: on http.listen, beside /metrics)',
  ).optional(),
  tokenFile: z
    .string()
    .optional()
    .describe(
      'File holding the token callers send as Authorization: Bearer TOKEN; required unless POST /publish listens on loopback only',
    ),
  topics: z
    .array(topicName)
    .min(1)
    .optional()
    .describe('The only topics POST /publish may publish to (others get 403; default: any)'),
  maxBodyBytes: size('Bodies larger than this get 413').prefault('1MiB'),
  maxInFlight: positiveInt('Requests handled at once; more get 429').default(64),
  maxMessagesInFlight: positiveInt(
    'Messages of all requests handed to producers and not yet acknowledged',
  ).default(WEBHOOK_DEFAULTS.maxMessagesInFlight),
  maxRequestMessagesInFlight: positiveInt(
    'Messages of one request handed to its producer and not yet acknowledged',
  ).default(WEBHOOK_DEFAULTS.maxRequestMessagesInFlight),
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

/**
 * `/publish` reachable from outside needs a token; its own listener needs a port of its own.
 * Registers that port in `ports` (port → key) for the webhooks' check.
 */
function checkPublish(
  config: { http: { listen: { host: string; port: number } }; publish: z.output<typeof publishSchema> },
  ports: Map<string, string>,
  context: z.core.$RefinementCtx,
): void {
  const { publish } = config;
  if (!publish.enabled) return;
  const listen = publish.listen ?? config.http.listen;
  if (publish.tokenFile === undefined && !isLoopbackHost(listen.host)) {
    context.addIssue({
      code: 'custom',
      path: ['publish', 'tokenFile'],
      message: `required: POST /publish listens on ${listen.host}, which is not loopback only, so callers must send a bearer token (or listen on 127.0.0.1)`,
    });
  }
  if (publish.listen === undefined || publish.listen.port === 0) return;
  const owner = ports.get(`${publish.listen.port}`);
  if (owner !== undefined) {
    context.addIssue({
      code: 'custom',
      path: ['publish', 'listen'],
      message: `port ${publish.listen.port} is taken by ${owner}`,
    });
  }
  ports.set(`${publish.listen.port}`, 'publish.listen');
}

export type SidecarConfig = z.output<typeof configSchema>;
export type PipelineConfig = z.output<typeof pipelineSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;
export type SinkConfig = z.output<typeof sinkSchema>;

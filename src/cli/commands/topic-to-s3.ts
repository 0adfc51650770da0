/**
 * `pulsar-ws topic-to-s3`: a subscription batched into S3 objects (templated, deterministic keys;
 * optional gzip), each message acknowledged once its object is uploaded. Credentials come from the
 * standard AWS chain (environment, profile, instance role). Runs until a signal, then uploads the
 * open batch, acknowledges it and exits (a second signal exits at once, uploading nothing more).
 * At-least-once: when a redelivered batch overwrites its object and when it makes a second one is
 * said in src/connectors/s3-sink.ts and docs/connectors-on-failure.md.
 */
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_KEY_TEMPLATE, DEFAULT_UPLOAD_TIMEOUT_MS, S3Sink } from '../../connectors/s3-sink.js';
import { CliError } from '../cli-error.js';
import { cliLogger } from '../connection.js';
import {
  checkLimits,
  consumeInto,
  consumeOptions,
  topicSelectionOf,
  type ConsumeArgs,
} from '../consuming.js';
import { runCommand } from '../run.js';

interface TopicToS3Args extends ConsumeArgs {
  bucket: string;
  prefix: string;
  'key-template': string;
  endpoint: string | undefined;
  region: string | undefined;
  'path-style': boolean;
  'batch-count': number;
  'batch-bytes': number;
  'batch-interval': number;
  gzip: boolean;
  'time-field': 'publish' | 'event';
  'upload-timeout': number;
  'spool-dir': string | undefined;
}

export const topicToS3Command: CommandModule<object, TopicToS3Args> = {
  command: 'topic-to-s3',
  describe:
    'Batch a subscription (--topic, repeatable, or --topics-pattern) into S3 objects; each message acknowledged once its object is uploaded',
  builder: (yargs) =>
    consumeOptions(yargs)
      .option('bucket', { type: 'string', demandOption: true, describe: 'Target bucket' })
      .option('prefix', { type: 'string', default: '', describe: 'Put before every key' })
      .option('key-template', {
        type: 'string',
        default: DEFAULT_KEY_TEMPLATE,
        describe: 'Fields: {topic} {date} {hour} {partition} {firstId} {lastId} {ext}',
      })
      .option('endpoint', {
        type: 'string',
        describe: 'S3-compatible endpoint URL (default: AWS, or $AWS_ENDPOINT_URL_S3)',
      })
      .option('region', { type: 'string', describe: 'Region (default: the AWS chain, e.g. $AWS_REGION)' })
      .option('path-style', {
        type: 'boolean',
        default: false,
        describe: 'Path-style addressing (most S3-compatible servers); on with --endpoint',
      })
      .option('batch-count', {
        type: 'number',
        default: 10_000,
        describe: 'Upload once this many messages are batched',
      })
      .option('batch-bytes', {
        type: 'number',
        default: 64 * 1024 * 1024,
        describe: 'Upload once this many bytes are batched',
      })
      .option('batch-interval', {
        type: 'number',
        default: 60,
        describe: 'Upload a non-empty batch at least every this many seconds',
      })
      .option('gzip', {
        type: 'boolean',
        default: false,
        describe: 'gzip each object (Content-Encoding: gzip, key ends in .gz)',
      })
      .option('time-field', {
        type: 'string',
        choices: ['publish', 'event'],
        default: 'publish',
        describe: 'Time that fills {date} and {hour}',
      })
      // consumeOptions() declared its choices; naming them again would list them twice in --help.
      .option('upload-timeout', {
        type: 'number',
        default: DEFAULT_UPLOAD_TIMEOUT_MS / 1000,
        describe:
          'Seconds one object upload may take before it is aborted (the command then fails); the consumer stays open this long for the last batch',
      })
      .option('spool-dir', {
        type: 'string',
        describe: 'Folder for the spool files objects are built in (default: the OS temporary folder)',
      })
      .option('format', {
        type: 'string',
        default: 'ndjson',
        describe: 'Object content: ndjson envelopes or lines',
      }) as unknown as Argv<TopicToS3Args>,
  handler: async (args) => {
    const logger = cliLogger(args);
    await runCommand(logger, async (signal) => {
      const limits = checkLimits(args);
      topicSelectionOf(args);
      if (!(args['upload-timeout'] > 0)) {
        throw new CliError(
          `--upload-timeout must be a number of seconds > 0, got ${args['upload-timeout']}`,
          2,
        );
      }
      const uploadTimeoutMs = Math.ceil(args['upload-timeout'] * 1000);
      const sink = new S3Sink({
        bucket: args.bucket,
        prefix: args.prefix,
        keyTemplate: args['key-template'],
        format: args.format,
        gzip: args.gzip,
        batchCount: args['batch-count'],
        batchBytes: args['batch-bytes'],
        batchIntervalMs: args['batch-interval'] * 1000,
        timeField: args['time-field'],
        uploadTimeoutMs,
        ...(args['spool-dir'] === undefined ? {} : { spoolDir: args['spool-dir'] }),
        client: {
          ...(args.endpoint === undefined ? {} : { endpoint: args.endpoint }),
          ...(args.region === undefined ? {} : { region: args.region }),
          forcePathStyle: args['path-style'] || args.endpoint !== undefined,
        },
        logger,
      });
      // The consumer stays open until the last batch's upload settled (its acks are sent), and a
      // signal ends the input so the open batch is uploaded instead of dropped.
      await consumeInto(args, logger, signal, limits, sink, undefined, {
        closeGraceMs: uploadTimeoutMs,
        finishOnSignal: true,
      });
    });
  },
};

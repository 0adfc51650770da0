/**
 * `pulsar-ws file-to-topic` (and `stdin-to-topic`): files or stdin framed into messages and published,
 * each file on its own producer. Exits 0 once every message was acknowledged (without --follow).
 * --checkpoint resumes after what the broker acknowledged; --dedup gives each input a stable producer
 * name and sequence ids that follow its message count (into a partitioned topic: one producer per
 * partition, each message routed by the client, each partition's sequence ids in the checkpoint; see
 * EffectivelyOnceProducerStream), so a topic with deduplication drops what a crash made us send twice.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { glob } from 'tinyglobby';
import type { Argv, CommandModule } from 'yargs';
import { CheckpointStore } from '../../connectors/checkpoint.js';
import { effectivelyOnceOptions, upgradeCheckpointEntry } from '../../connectors/dedup-resume.js';
import { FileSource } from '../../connectors/file-source.js';
import { FRAMINGS, type Framing } from '../../connectors/framing.js';
import { stdinSource } from '../../connectors/stdin.js';
import type { ProducerOptions, PulsarWsClient } from '../../index.js';
import { Tracked } from '../../streams/tracked.js';
import {
  keyErrorAsUsage,
  producerEncryptionFromArgs,
  withEncryptOptions,
  type EncryptArgs,
} from '../encryption-flags.js';
import { CliError } from '../cli-error.js';
import { cliLogger, clientFromArgs, withConnectionOptions, type ConnectionArgs } from '../connection.js';
import { createProgress, summaryLine, type Progress } from '../progress.js';
import { runCommand } from '../run.js';

interface FileToTopicArgs extends ConnectionArgs, EncryptArgs {
  file: string[];
  topic: string;
  format: Framing;
  'chunk-bytes': number | undefined;
  'key-field': string | undefined;
  'properties-field': string | undefined;
  follow: boolean;
  checkpoint: string | undefined;
  dedup: boolean;
  'producer-name': string | undefined;
  'max-in-flight': number;
}

function framingOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('format', {
      type: 'string',
      choices: FRAMINGS,
      default: 'lines',
      describe: 'How input becomes messages',
    })
    .option('chunk-bytes', {
      type: 'number',
      describe: 'raw: one message per this many bytes (default: whole input)',
    })
    .option('key-field', { type: 'string', describe: 'ndjson: the field whose value is the message key' })
    .option('properties-field', {
      type: 'string',
      describe: 'ndjson: the field (an object) holding the message properties',
    })
    .option('max-in-flight', {
      type: 'number',
      default: 1000,
      describe: 'Messages sent and not yet acknowledged',
    });
}

/**
 * Counts what the source hands the producer (every message counted is acknowledged by the end);
 * lines and NDJSON records also consumed their newline from the input. A `'data'` listener beside
 * the pipeline's own sees every message as it goes, with no stream in between (a counting
 * Transform cost a stream hop per message); the pipeline's backpressure pauses both.
 */
function countInto(source: Readable, progress: Progress, format: Framing): void {
  const framing = format === 'raw' ? 0 : 1;
  source.on('data', (chunk: unknown) => {
    const value =
      chunk instanceof Tracked ? (chunk.value as { payload: Buffer }) : (chunk as { payload: Buffer });
    progress.add(1, value.payload.length, value.payload.length + framing);
  });
}

async function expandFiles(patterns: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const pattern of patterns) {
    if (pattern === '-' || !/[*?[{]/.test(pattern)) {
      files.push(pattern);
      continue;
    }
    const matches = (await glob(pattern, { onlyFiles: true, absolute: true })).sort();
    if (matches.length === 0) throw new CliError(`--file ${pattern} matches no file`, 2);
    files.push(...matches);
  }
  return files;
}

/** Bytes left to publish (file sizes past their checkpoints), for the progress bar's ETA. */
async function totalBytes(
  files: readonly string[],
  checkpoint: CheckpointStore | undefined,
): Promise<number> {
  let total = 0;
  for (const file of files) {
    const info = await stat(file).catch(() => undefined);
    if (info === undefined) continue;
    const saved = checkpoint?.get(resolve(file));
    const resumes = saved !== undefined && saved.ino === info.ino && saved.offset <= info.size;
    total += info.size - (resumes ? saved.offset : 0);
  }
  return total;
}

function dedupName(base: string | undefined, file: string, many: boolean): string {
  const digest = createHash('sha256').update(resolve(file)).digest('hex').slice(0, 12);
  if (base === undefined) return `pulsar-ws-file-${digest}`;
  return many ? `${base}-${digest}` : base;
}

async function publish(
  client: PulsarWsClient,
  args: FileToTopicArgs,
  source: Readable,
  producerOptions: ProducerOptions,
  progress: Progress,
  signal: AbortSignal,
): Promise<void> {
  const producer = keyErrorAsUsage(() => client.producer(args.topic, producerOptions));
  // In the tick the pipeline starts in: the source flows only once both listen.
  countInto(source, progress, args.format);
  await pipeline(source, producer, { signal });
}

async function run(args: FileToTopicArgs, logger: Logger, signal: AbortSignal): Promise<void> {
  const files = await expandFiles(args.file);
  if (args.dedup && files.includes('-'))
    throw new CliError('--dedup needs files: stdin cannot be re-read from a position', 2);
  if (args.checkpoint !== undefined && files.includes('-'))
    throw new CliError('--checkpoint needs files, not stdin (-)', 2);
  if (args.follow && files.includes('-')) throw new CliError('--follow needs files, not stdin (-)', 2);
  const checkpoint =
    args.checkpoint === undefined ? undefined : await CheckpointStore.open(args.checkpoint, { logger });
  const client = clientFromArgs(args, logger);
  const progress = createProgress({
    label: 'file-to-topic',
    quiet: args.quiet,
    logger,
    ...(args.follow || files.includes('-') ? {} : { totalBytes: await totalBytes(files, checkpoint) }),
  });
  const started = Date.now();
  const base: ProducerOptions = { maxInFlight: args['max-in-flight'], ...producerEncryptionFromArgs(args) };
  const framing = {
    format: args.format,
    ...(args['chunk-bytes'] === undefined ? {} : { chunkBytes: args['chunk-bytes'] }),
    ...(args['key-field'] === undefined ? {} : { keyField: args['key-field'] }),
    ...(args['properties-field'] === undefined ? {} : { propertiesField: args['properties-field'] }),
  };
  const one = async (file: string): Promise<void> => {
    if (file === '-') {
      await publish(client, args, stdinSource(framing), base, progress, signal);
      return;
    }
    if (args.dedup) await upgradeCheckpointEntry(client, args.topic, file, checkpoint, logger);
    const source = await FileSource.open(file, {
      ...framing,
      follow: args.follow,
      ...(checkpoint === undefined ? {} : { checkpoint }),
    });
    logger.info({ file: source.path, firstMessage: source.firstMessage }, 'publishing');
    const options: ProducerOptions = args.dedup
      ? {
          ...base,
          ...effectivelyOnceOptions(source, dedupName(args['producer-name'], file, files.length > 1)),
        }
      : base;
    await publish(client, args, source, options, progress, signal);
  };
  try {
    // Followed files never end: they run side by side. Otherwise one after another, in order.
    if (args.follow) await Promise.all(files.map(one));
    else for (const file of files) await one(file);
  } finally {
    progress.stop();
    await checkpoint?.flush();
    await client.close();
  }
  if (!args.quiet)
    process.stdout.write(`${summaryLine('published', progress, (Date.now() - started) / 1000)}\n`);
}

function builder(yargs: Argv, fileOption: boolean) {
  const common = withEncryptOptions(framingOptions(withConnectionOptions(yargs))).option('topic', {
    type: 'string',
    demandOption: true,
    describe: 'Topic to publish to (short or full name)',
  });
  // stdin cannot be re-read from a position: no --follow, --checkpoint or --dedup for it.
  if (!fileOption) return common;
  return common
    .option('file', {
      type: 'string',
      array: true,
      demandOption: true,
      describe: 'Input files or globs; - reads stdin',
    })
    .option('follow', {
      type: 'boolean',
      default: false,
      describe: 'Keep tailing the files (rotation and truncation survive)',
    })
    .option('checkpoint', {
      type: 'string',
      describe: 'File recording acknowledged progress; a restart resumes after it',
    })
    .option('dedup', {
      type: 'boolean',
      default: false,
      describe:
        'Stable producer name and sequence ids per input: a topic with deduplication drops resent messages',
    })
    .option('producer-name', {
      type: 'string',
      describe: 'With --dedup: the producer name (one file) or its prefix',
    });
}

export const fileToTopicCommand: CommandModule<object, FileToTopicArgs> = {
  command: 'file-to-topic',
  describe: 'Publish files (lines, NDJSON or raw) to a topic; exits once every message is acknowledged',
  builder: (yargs) => builder(yargs, true) as unknown as Argv<FileToTopicArgs>,
  handler: async (args) => {
    const logger = cliLogger(args);
    await runCommand(logger, (signal) => run(args, logger, signal));
  },
};

export const stdinToTopicCommand: CommandModule<object, FileToTopicArgs> = {
  command: 'stdin-to-topic',
  describe: 'Publish stdin (lines, NDJSON or raw) to a topic: file-to-topic --file -',
  builder: (yargs) => builder(yargs, false) as unknown as Argv<FileToTopicArgs>,
  handler: async (args) => {
    const logger = cliLogger(args);
    await runCommand(logger, (signal) =>
      run(
        {
          ...args,
          file: ['-'],
          follow: false,
          checkpoint: undefined,
          dedup: false,
          'producer-name': undefined,
        },
        logger,
        signal,
      ),
    );
  },
};

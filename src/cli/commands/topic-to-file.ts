/**
 * `pulsar-ws topic-to-file`: a subscription's messages appended to a file (`lines` or `ndjson`),
 * each acknowledged only once fsynced. Exits 0 after --count messages were written and acknowledged,
 * or after --idle-exit seconds with nothing new; otherwise runs until a signal.
 */
import { pipeline } from 'node:stream/promises';
import type { Argv, CommandModule } from 'yargs';
import { FileSink } from '../../connectors/file-sink.js';
import { SINK_FORMATS, type SinkFormat } from '../../connectors/sink-format.js';
import {
  INITIAL_POSITIONS,
  SUBSCRIPTION_TYPES,
  type InitialPosition,
  type SubscriptionType,
} from '../../protocol/index.js';
import type { ConsumerMessage } from '../../index.js';
import { CliError } from '../cli-error.js';
import {
  cliLogger,
  clientFromArgs,
  connectionWatch,
  withConnectionOptions,
  type ConnectionArgs,
} from '../connection.js';
import { limit } from '../limit.js';
import { createProgress, summaryLine } from '../progress.js';
import { runCommand } from '../run.js';

export interface ConsumeArgs extends ConnectionArgs {
  topic: string;
  subscription: string;
  'subscription-type': SubscriptionType;
  'initial-position': InitialPosition;
  format: SinkFormat;
  count: number | undefined;
  'idle-exit': number | undefined;
}

interface TopicToFileArgs extends ConsumeArgs {
  file: string;
  'rotate-size': number | undefined;
  'rotate-interval': number | undefined;
  'fsync-interval': number;
}

/** The options `consume` and `topic-to-file` share. */
export function consumeOptions<T>(yargs: Argv<T>) {
  return withConnectionOptions(yargs)
    .option('subscription', { type: 'string', demandOption: true, describe: 'Subscription name' })
    .option('subscription-type', {
      type: 'string',
      choices: SUBSCRIPTION_TYPES,
      default: 'Exclusive',
    })
    .option('initial-position', {
      type: 'string',
      choices: INITIAL_POSITIONS,
      default: 'Earliest',
      describe: 'Where a new subscription starts',
    })
    .option('format', {
      type: 'string',
      choices: SINK_FORMATS,
      default: 'lines',
      describe: 'lines: payload + newline; ndjson: an envelope per message',
    })
    .option('count', {
      type: 'number',
      describe: 'Exit 0 after this many messages were written and acknowledged',
    })
    .option('idle-exit', { type: 'number', describe: 'Exit 0 after this many seconds with nothing new' });
}

export function checkLimits(args: { count: number | undefined; 'idle-exit': number | undefined }): {
  count?: number;
  idleMs?: number;
} {
  if (args.count !== undefined && !(Number.isSafeInteger(args.count) && args.count >= 0)) {
    throw new CliError(`--count must be an integer >= 0, got ${args.count}`, 2);
  }
  if (args['idle-exit'] !== undefined && !(args['idle-exit'] > 0)) {
    throw new CliError(`--idle-exit must be a number of seconds > 0, got ${args['idle-exit']}`, 2);
  }
  return {
    ...(args.count === undefined ? {} : { count: args.count }),
    ...(args['idle-exit'] === undefined ? {} : { idleMs: args['idle-exit'] * 1000 }),
  };
}

export const topicToFileCommand: CommandModule<object, TopicToFileArgs> = {
  command: 'topic-to-file',
  describe: 'Append a subscription to a file; each message acknowledged once fsynced',
  builder: (yargs) =>
    consumeOptions(yargs)
      .option('topic', { type: 'string', demandOption: true, describe: 'Topic (short or full name)' })
      .option('file', {
        type: 'string',
        demandOption: true,
        describe: 'Output file (appended; a torn last record is repaired)',
      })
      .option('rotate-size', { type: 'number', describe: 'Rotate the file at this many bytes' })
      .option('rotate-interval', {
        type: 'number',
        describe: 'Rotate a non-empty file every this many seconds',
      })
      .option('fsync-interval', {
        type: 'number',
        default: 1,
        describe: 'fsync (and acknowledge) at least every this many seconds',
      }) as unknown as Argv<TopicToFileArgs>,
  handler: async (args) => {
    const logger = cliLogger(args);
    await runCommand(logger, async (signal) => {
      const limits = checkLimits(args);
      const sink = await FileSink.open(args.file, {
        format: args.format,
        fsyncIntervalMs: args['fsync-interval'] * 1000,
        ...(args['rotate-size'] === undefined ? {} : { rotateBytes: args['rotate-size'] }),
        ...(args['rotate-interval'] === undefined
          ? {}
          : { rotateIntervalMs: args['rotate-interval'] * 1000 }),
        logger,
      });
      const client = clientFromArgs(args, logger);
      const progress = createProgress({
        label: 'topic-to-file',
        quiet: args.quiet,
        logger,
        ...(limits.count === undefined ? {} : { total: limits.count }),
      });
      const started = Date.now();
      try {
        const source = client.consumer(args.topic, args.subscription, {
          subscriptionType: args['subscription-type'],
          subscriptionInitialPosition: args['initial-position'],
        });
        const watch = connectionWatch(source, args.url);
        await pipeline(
          source,
          limit<ConsumerMessage>(limits),
          async function* (messages: AsyncIterable<ConsumerMessage>) {
            for await (const message of messages) {
              progress.add(1, message.payload.length);
              yield message;
            }
          },
          sink,
          { signal },
        );
        watch.check();
      } finally {
        progress.stop();
        await client.close();
      }
      if (!args.quiet)
        process.stdout.write(`${summaryLine('wrote', progress, (Date.now() - started) / 1000)}\n`);
    });
  },
};

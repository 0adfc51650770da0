/**
 * `pulsar-ws topic-to-file`: a subscription's messages appended to a file (`lines` or `ndjson`),
 * each acknowledged only once fsynced. Exits 0 after --count messages were written and acknowledged,
 * or after --idle-exit seconds with nothing new; otherwise runs until a signal.
 *
 * Exactly-once (default, --no-exactly-once turns it off) on Exclusive and Failover subscriptions, of
 * one or more topics, partitioned or not: a state file next to the output (`<file>.state.json`)
 * records the offset and the last message id of each topic-partition before acknowledging. Shared
 * and Key_Shared deliver out of order: at-least-once.
 */
import type { Argv, CommandModule } from 'yargs';
import { FileSink } from '../../connectors/file-sink.js';
import { cliLogger } from '../connection.js';
import {
  checkLimits,
  consumeInto,
  consumeOptions,
  topicSelectionOf,
  type ConsumeArgs,
} from '../consuming.js';
import { createProgress, summaryLine } from '../progress.js';
import { runCommand } from '../run.js';

interface TopicToFileArgs extends ConsumeArgs {
  file: string;
  'rotate-size': number | undefined;
  'rotate-interval': number | undefined;
  'fsync-interval': number;
  'exactly-once': boolean;
}

export const topicToFileCommand: CommandModule<object, TopicToFileArgs> = {
  command: 'topic-to-file',
  describe:
    'Append a subscription (--topic, repeatable, or --topics-pattern) to a file; each message acknowledged once fsynced. Exclusive/Failover: exactly-once per topic-partition (state in <file>.state.json); Shared/Key_Shared: at-least-once',
  builder: (yargs) =>
    consumeOptions(yargs)
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
      })
      .option('exactly-once', {
        type: 'boolean',
        default: true,
        describe:
          'Exclusive/Failover subscriptions: record the offset + the last message id of each topic-partition in <file>.state.json before acking; on restart cut the file back and skip redeliveries (each message once, each partition in order). Shared/Key_Shared stay at-least-once',
      }) as unknown as Argv<TopicToFileArgs>,
  handler: async (args) => {
    const logger = cliLogger(args);
    await runCommand(logger, async (signal) => {
      const limits = checkLimits(args);
      topicSelectionOf(args);
      const ordered = ['Exclusive', 'Failover'].includes(args['subscription-type']);
      const sink = await FileSink.open(args.file, {
        format: args.format,
        ...(args['exactly-once'] && ordered ? { exactlyOnce: { subscription: args.subscription } } : {}),
        fsyncIntervalMs: args['fsync-interval'] * 1000,
        ...(args['rotate-size'] === undefined ? {} : { rotateBytes: args['rotate-size'] }),
        ...(args['rotate-interval'] === undefined
          ? {}
          : { rotateIntervalMs: args['rotate-interval'] * 1000 }),
        logger,
      });
      const progress = createProgress({
        label: 'topic-to-file',
        quiet: args.quiet,
        logger,
        ...(limits.count === undefined ? {} : { total: limits.count }),
      });
      const started = Date.now();
      try {
        // --count counts the lines written: redeliveries the exactly-once state skips do not count.
        const counts = sink.willWrite();
        await consumeInto(args, logger, signal, { ...limits, counts }, sink, (message) =>
          progress.add(1, message.payload.length),
        );
      } finally {
        progress.stop();
      }
      if (!args.quiet)
        process.stdout.write(`${summaryLine('wrote', progress, (Date.now() - started) / 1000)}\n`);
    });
  },
};

/**
 * `pulsar-ws read TOPIC`: a reader from --start (earliest, latest, or message ids: repeat it to give
 * one per partition) to stdout. Exits 0 after --count messages, or with --until-end at the topic's
 * last message as of the start (each partition's, for a partitioned topic).
 */
import { pipeline } from 'node:stream/promises';
import type { Argv, CommandModule } from 'yargs';
import { SINK_FORMATS, type SinkFormat } from '../../connectors/sink-format.js';
import { stdoutSink } from '../../connectors/stdin.js';
import type { ConsumerMessage } from '../../index.js';
import {
  cliLogger,
  clientFromArgs,
  connectionWatch,
  withConnectionOptions,
  type ConnectionArgs,
} from '../connection.js';
import { limit } from '../limit.js';
import { runCommand } from '../run.js';
import { checkLimits, withReceiverQueueSize } from '../consuming.js';
import { MAX_RECEIVER_QUEUE_SIZE } from '../../protocol/index.js';
import { PIPE_READER_QUEUE_SIZE } from '../../streams/reader-stream.js';

interface ReadArgs extends ConnectionArgs {
  topic: string;
  start: string | string[];
  count: number | undefined;
  'until-end': boolean;
  format: SinkFormat;
  'receiver-queue-size': number;
}

/** One --start is a position or an id; several are message ids, one per partition. */
function startOf(start: string | string[]): string | string[] {
  if (!Array.isArray(start)) return start;
  return start.length === 1 ? (start[0] ?? 'earliest') : start;
}

export const readCommand: CommandModule<object, ReadArgs> = {
  command: 'read <topic>',
  describe: 'Print a topic from a position to stdout (no subscription)',
  builder: (yargs) =>
    withReceiverQueueSize(withConnectionOptions(yargs), PIPE_READER_QUEUE_SIZE, MAX_RECEIVER_QUEUE_SIZE)
      .positional('topic', { type: 'string', demandOption: true, describe: 'Topic (short or full name)' })
      .option('start', {
        type: 'string',
        default: 'earliest',
        describe:
          'earliest, latest or a message id (exclusive); repeat it with one message id per partition of a partitioned topic (partitions no id names start at earliest)',
      })
      .option('count', { type: 'number', describe: 'Exit 0 after this many messages' })
      .option('until-end', {
        type: 'boolean',
        default: false,
        describe: 'Exit 0 at the last message as of the start (of every partition)',
      })
      .option('format', {
        type: 'string',
        choices: SINK_FORMATS,
        default: 'lines',
        describe: 'lines or ndjson',
      }) as unknown as Argv<ReadArgs>,
  handler: async (args) => {
    const logger = cliLogger(args);
    await runCommand(logger, async (signal) => {
      const limits = checkLimits({ count: args.count, 'idle-exit': undefined });
      const client = clientFromArgs(args, logger);
      try {
        const source = client.reader(args.topic, {
          startMessageId: startOf(args.start),
          highWaterMark: args['receiver-queue-size'],
          stopAtEnd: args['until-end'],
        });
        const watch = connectionWatch(source, args.url);
        await pipeline(source, limit<ConsumerMessage>(limits), stdoutSink(args.format), { signal });
        watch.check();
      } finally {
        await client.close();
      }
    });
  },
};

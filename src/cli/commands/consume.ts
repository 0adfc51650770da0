/**
 * `pulsar-ws consume TOPIC... --subscription S` (or `--topic T`, repeatable, or `--topics-pattern`):
 * messages to stdout as `lines` or `ndjson`, each acknowledged once written. Exits 0 after --count
 * messages or --idle-exit seconds with nothing new.
 */
import type { Argv, CommandModule } from 'yargs';
import { stdoutSink } from '../../connectors/stdin.js';
import { cliLogger } from '../connection.js';
import { checkLimits, consumeInto, consumeOptions, type ConsumeArgs } from '../consuming.js';
import { runCommand } from '../run.js';

export const consumeCommand: CommandModule<object, ConsumeArgs> = {
  command: 'consume [topic..]',
  describe:
    'Print a subscription of one or more topics (or --topics-pattern) to stdout; each message acknowledged once written',
  builder: (yargs) =>
    consumeOptions(yargs).positional('topic', {
      type: 'string',
      array: true,
      describe: 'Topics (short or full names); or --topic, repeatable, or --topics-pattern',
    }) as unknown as Argv<ConsumeArgs>,
  handler: async (args) => {
    const logger = cliLogger(args);
    await runCommand(logger, async (signal) => {
      const limits = checkLimits(args);
      await consumeInto(args, logger, signal, limits, stdoutSink(args.format));
    });
  },
};

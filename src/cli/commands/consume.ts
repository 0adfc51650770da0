/**
 * `pulsar-ws consume TOPIC --subscription S`: messages to stdout as `lines` or `ndjson`, each
 * acknowledged once written. Exits 0 after --count messages or --idle-exit seconds with nothing new.
 */
import { pipeline } from 'node:stream/promises';
import type { Argv, CommandModule } from 'yargs';
import { stdoutSink } from '../../connectors/stdin.js';
import type { ConsumerMessage } from '../../index.js';
import { cliLogger, clientFromArgs, connectionWatch } from '../connection.js';
import { limit } from '../limit.js';
import { runCommand } from '../run.js';
import { checkLimits, consumeOptions, type ConsumeArgs } from './topic-to-file.js';

export const consumeCommand: CommandModule<object, ConsumeArgs> = {
  command: 'consume <topic>',
  describe: 'Print a subscription to stdout; each message acknowledged once written',
  builder: (yargs) =>
    consumeOptions(yargs).positional('topic', {
      type: 'string',
      demandOption: true,
      describe: 'Topic (short or full name)',
    }) as unknown as Argv<ConsumeArgs>,
  handler: async (args) => {
    const logger = cliLogger(args);
    await runCommand(logger, async (signal) => {
      const limits = checkLimits(args);
      const client = clientFromArgs(args, logger);
      try {
        const source = client.consumer(args.topic, args.subscription, {
          subscriptionType: args['subscription-type'],
          subscriptionInitialPosition: args['initial-position'],
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

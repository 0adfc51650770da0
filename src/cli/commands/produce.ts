/**
 * `pulsar-ws produce TOPIC`: publishes each -m text, or each line of stdin when there is no -m, with
 * an optional key and properties. Exits 0 once every message was acknowledged.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandModule } from 'yargs';
import { stdinSource } from '../../connectors/stdin.js';
import type { ProducerMessageObject } from '../../index.js';
import { CliError } from '../cli-error.js';
import {
  keyErrorAsUsage,
  producerEncryptionFromArgs,
  withEncryptOptions,
  type EncryptArgs,
} from '../encryption-flags.js';
import { cliLogger, clientFromArgs, withConnectionOptions, type ConnectionArgs } from '../connection.js';
import { runCommand } from '../run.js';

interface ProduceArgs extends ConnectionArgs, EncryptArgs {
  topic: string;
  message: string[] | undefined;
  key: string | undefined;
  property: string[] | undefined;
}

/** `k=v` pairs as properties. @throws CliError naming the malformed pair. */
export function parseProperties(pairs: readonly string[] | undefined): Record<string, string> | undefined {
  if (pairs === undefined || pairs.length === 0) return undefined;
  const properties: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`--property expects key=value, got ${JSON.stringify(pair)}`, 2);
    properties[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return properties;
}

export const produceCommand: CommandModule<object, ProduceArgs> = {
  command: 'produce <topic>',
  describe: 'Publish -m texts (or stdin lines) to a topic',
  builder: (yargs) =>
    withEncryptOptions(withConnectionOptions(yargs))
      .positional('topic', { type: 'string', demandOption: true, describe: 'Topic (short or full name)' })
      .option('message', {
        alias: 'm',
        type: 'string',
        array: true,
        describe: 'A message text (repeatable); default: stdin lines',
      })
      .option('key', { type: 'string', describe: 'Message key' })
      .option('property', {
        type: 'string',
        array: true,
        describe: 'A property k=v (repeatable)',
      }),
  handler: async (args) => {
    const logger = cliLogger(args);
    await runCommand(logger, async (signal) => {
      const properties = parseProperties(args.property);
      const decorate = (message: ProducerMessageObject): ProducerMessageObject => ({
        ...message,
        ...(args.key === undefined ? {} : { key: args.key }),
        ...(properties === undefined ? {} : { properties }),
      });
      const source =
        args.message === undefined
          ? stdinSource({ format: 'lines' }).map(decorate)
          : Readable.from(args.message.map((text) => decorate({ payload: text })));
      const client = clientFromArgs(args, logger);
      let acked = 0;
      const producer = keyErrorAsUsage(() =>
        client.producer(args.topic, { onAck: () => (acked += 1), ...producerEncryptionFromArgs(args) }),
      );
      try {
        await pipeline(source, producer, { signal });
      } finally {
        await client.close();
      }
      if (!args.quiet) process.stderr.write(`published ${acked} messages\n`);
    });
  },
};

/**
 * `pulsar-ws token`: secret keys and JWT tokens in the format Pulsar's `tokenSecretKey` uses, so the
 * same key and tokens work with the embedded broker and with Apache Pulsar.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { createToken } from '../../broker/index.js';
import { CliError } from '../cli-error.js';
import { withExamples } from '../examples.js';

interface CreateArgs {
  'secret-file': string;
  subject: string;
  'expiry-seconds': number | undefined;
}

interface SecretKeyArgs {
  output: string;
}

const create: CommandModule<object, CreateArgs> = {
  command: 'create',
  describe: 'Print an HS256 token whose subject (role) is --subject',
  builder: (yargs) =>
    yargs
      .option('secret-file', { type: 'string', demandOption: true, describe: 'File with the raw secret key' })
      .option('subject', {
        type: 'string',
        demandOption: true,
        describe: 'The role the token authenticates as',
      })
      .option('expiry-seconds', {
        type: 'number',
        describe: 'Token lifetime in seconds (default: no expiry)',
      }),
  handler: async (args) => {
    let key: Buffer;
    try {
      key = await readFile(args['secret-file']);
    } catch (error) {
      throw new CliError(`cannot read --secret-file ${args['secret-file']}: ${(error as Error).message}`, 2, {
        cause: error,
      });
    }
    if (key.length < 32) {
      throw new CliError(
        `--secret-file ${args['secret-file']} has ${key.length} bytes; HS256 needs at least 32`,
        2,
      );
    }
    const expiry = args['expiry-seconds'];
    if (expiry !== undefined && !(Number.isSafeInteger(expiry) && expiry > 0)) {
      throw new CliError(`--expiry-seconds must be a positive integer, got ${expiry}`, 2);
    }
    const token = await createToken(
      key,
      args.subject,
      expiry === undefined ? {} : { expiresInSeconds: expiry },
    );
    process.stdout.write(`${token}\n`);
  },
};

const createSecretKey: CommandModule<object, SecretKeyArgs> = {
  command: 'create-secret-key',
  describe: 'Write a new random 32-byte secret key (raw bytes, as Pulsar reads it)',
  builder: (yargs) =>
    yargs.option('output', { type: 'string', demandOption: true, describe: 'File to create' }),
  handler: async (args) => {
    try {
      await writeFile(args.output, randomBytes(32), { flag: 'wx', mode: 0o600 });
    } catch (error) {
      throw new CliError(`cannot create --output ${args.output}: ${(error as Error).message}`, 1, {
        cause: error,
      });
    }
  },
};

export const tokenCommand: CommandModule = {
  command: 'token <command>',
  describe: 'Create secret keys and JWT tokens for token authentication',
  builder: (yargs: Argv) =>
    yargs.command(withExamples(create)).command(withExamples(createSecretKey)).demandCommand(1),
  handler: () => undefined,
};

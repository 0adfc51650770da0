/**
 * `pulsar-ws keys create`: an RSA-2048 key pair for end-to-end encryption, written with Pulsar's file
 * names (`public-key.<name>`, `private-key.<name>`) so the same directory serves the embedded broker's
 * `--crypto-keys-dir`, a Pulsar CryptoKeyReader, and the `--encrypt-key` / `--decrypt-key` flags.
 */
import type { Argv, CommandModule } from 'yargs';
import { KeyFormatError, writeRsaKeyPair } from '../../encryption/keys.js';
import { CliError } from '../cli-error.js';

interface CreateArgs {
  name: string;
  dir: string;
}

const create: CommandModule<object, CreateArgs> = {
  command: 'create',
  describe:
    'Write an RSA-2048 pair as DIR/public-key.NAME (SPKI PEM) and DIR/private-key.NAME (PKCS#8 PEM, mode 600)',
  builder: (yargs) =>
    yargs
      .option('name', { type: 'string', demandOption: true, describe: 'Key name producers encrypt for' })
      .option('dir', {
        type: 'string',
        demandOption: true,
        describe: 'Directory to write into (created if missing)',
      }),
  handler: async (args) => {
    try {
      const { publicPath, privatePath } = await writeRsaKeyPair(args.dir, args.name);
      process.stdout.write(`${publicPath}\n${privatePath}\n`);
    } catch (error) {
      if (error instanceof KeyFormatError)
        throw new CliError(`--name: ${error.message}`, 2, { cause: error });
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code === 'EEXIST' ? 'a key of that name exists already (not overwritten)' : (error as Error).message;
      throw new CliError(`cannot create key "${args.name}" in ${args.dir}: ${reason}`, 1, { cause: error });
    }
  },
};

export const keysCommand: CommandModule = {
  command: 'keys <command>',
  describe: 'Create RSA key pairs for end-to-end message encryption',
  builder: (yargs: Argv) => yargs.command(create).demandCommand(1),
  handler: () => undefined,
};

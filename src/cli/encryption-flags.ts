/**
 * The end-to-end encryption flags: `--encrypt-key NAME=PUBLIC.pem` (client-side mode: this process
 * encrypts, the server stores ciphertext), `--encryption-keys NAMES` (server-side mode: the server
 * encrypts with its own keys) on producing commands; `--decrypt-key NAME=PRIVATE.pem` on consuming ones.
 */
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { COMPRESSION_TYPES, type CompressionType } from '../protocol/index.js';
import type { ConsumerOptions, ProducerOptions } from '../index.js';
import { CliError } from './cli-error.js';

export interface EncryptArgs {
  'encrypt-key': string[] | undefined;
  'encryption-keys': string | undefined;
  'encrypt-compression': string;
}

export interface DecryptArgs {
  'decrypt-key': string[] | undefined;
}

export function withEncryptOptions<T>(yargs: Argv<T>): Argv<T & EncryptArgs> {
  return yargs
    .option('encrypt-key', {
      type: 'string',
      array: true,
      describe: 'Encrypt each message here for key NAME=PUBLIC.pem (repeatable; client-side, PIP-290)',
    })
    .option('encryption-keys', {
      type: 'string',
      describe:
        "Comma-separated key names the server encrypts with (server-side; needs the server's key source)",
    })
    .option('encrypt-compression', {
      type: 'string',
      choices: COMPRESSION_TYPES,
      default: 'NONE',
      describe: 'With --encrypt-key: compression applied before encryption',
    })
    .conflicts('encrypt-key', 'encryption-keys');
}

export function withDecryptOptions<T>(yargs: Argv<T>): Argv<T & DecryptArgs> {
  return yargs.option('decrypt-key', {
    type: 'string',
    array: true,
    describe: 'Decrypt end-to-end encrypted messages with key NAME=PRIVATE.pem (repeatable)',
  });
}

/** `NAME=FILE` pairs to name → file contents. @throws CliError naming the bad value or unreadable file. */
function readKeyPairs(flag: string, values: readonly string[]): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    const name = at > 0 ? value.slice(0, at) : '';
    const file = at > 0 ? value.slice(at + 1) : '';
    if (name === '' || file === '') throw new CliError(`${flag} expects NAME=FILE.pem, got "${value}"`, 2);
    if (name in keys) throw new CliError(`${flag} names key "${name}" twice`, 2);
    try {
      keys[name] = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CliError(`cannot read ${flag} ${value}: ${(error as Error).message}`, 2, { cause: error });
    }
  }
  return keys;
}

/** The producer options the encryption flags ask for (none when no flag is given). */
export function producerEncryptionFromArgs(
  args: EncryptArgs,
): Pick<ProducerOptions, 'encryption' | 'encryptionKeys'> {
  const encryptKeys = args['encrypt-key'];
  if (encryptKeys !== undefined && encryptKeys.length > 0) {
    return {
      encryption: {
        keys: readKeyPairs('--encrypt-key', encryptKeys),
        compression: args['encrypt-compression'] as CompressionType,
      },
    };
  }
  const names = args['encryption-keys'];
  if (names === undefined) return {};
  if (names.split(',').some((name) => name.trim() === '')) {
    throw new CliError(`--encryption-keys expects comma-separated key names, got "${names}"`, 2);
  }
  return { encryptionKeys: names };
}

/** The consumer options `--decrypt-key` asks for. */
export function consumerDecryptionFromArgs(args: DecryptArgs): Pick<ConsumerOptions, 'decryption'> {
  const keys = args['decrypt-key'];
  if (keys === undefined || keys.length === 0) return {};
  return { decryption: { privateKeys: readKeyPairs('--decrypt-key', keys) } };
}

/** Turns a bad key (not an RSA PEM) found when the stream is created into a usage error. */
export function keyErrorAsUsage<T>(create: () => T): T {
  try {
    return create();
  } catch (error) {
    const message = (error as Error).message;
    if (/encryption\.keys|privateKeys|not a PEM|RSA/.test(message)) {
      throw new CliError(`bad key: ${message}`, 2, { cause: error });
    }
    throw error;
  }
}

/**
 * What every connecting command shares: the connection flags (with their environment variables), the
 * root logger, and a `PulsarWsClient` built from them.
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Argv } from 'yargs';
import { checkedToken } from '../client/token.js';
import { PulsarWsClient, type TlsOptions } from '../index.js';
import { CliError } from './cli-error.js';
import { createCliLogger, LOG_LEVELS } from './logger.js';

export interface ConnectionArgs {
  url: string;
  token: string | undefined;
  'token-file': string | undefined;
  'tls-ca': string | undefined;
  'tls-cert': string | undefined;
  'tls-key': string | undefined;
  'tls-insecure': boolean;
  'connect-timeout': number;
  'log-level': string;
  quiet: boolean;
}

export function withConnectionOptions<T>(yargs: Argv<T>): Argv<T & ConnectionArgs> {
  return yargs
    .option('url', {
      type: 'string',
      default: process.env.PULSAR_WS_URL ?? 'ws://localhost:8080',
      defaultDescription: '$PULSAR_WS_URL or ws://localhost:8080',
      describe: 'WebSocket service URL',
    })
    .option('token', { type: 'string', describe: 'JWT for token auth (default: $PULSAR_TOKEN)' })
    .option('token-file', {
      type: 'string',
      describe: 'Read the JWT from this file, again at every (re)connect (for rotated tokens)',
    })
    .option('tls-ca', { type: 'string', describe: 'PEM file of trusted CA certificates (wss://)' })
    .option('tls-cert', { type: 'string', describe: 'PEM client certificate (wss:// with client auth)' })
    .option('tls-key', { type: 'string', describe: 'PEM client key' })
    .option('tls-insecure', {
      type: 'boolean',
      default: false,
      describe: 'Do not verify the server certificate',
    })
    .option('connect-timeout', {
      type: 'number',
      default: 30,
      describe: 'Seconds to keep trying the first connection before exiting 1 (0: keep trying)',
    })
    .option('log-level', {
      type: 'string',
      choices: LOG_LEVELS,
      default: 'info',
      describe: 'Log level (logs go to stderr)',
    })
    .option('quiet', { type: 'boolean', default: false, describe: 'No progress output and no summary' })
    .conflicts('token', 'token-file');
}

function readSecretFile(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new CliError(`cannot read ${flag} ${path}: ${(error as Error).message}`, 2, { cause: error });
  }
}

function tlsOptions(args: ConnectionArgs): TlsOptions | undefined {
  const { 'tls-ca': ca, 'tls-cert': cert, 'tls-key': key, 'tls-insecure': insecure } = args;
  if (ca === undefined && cert === undefined && key === undefined && !insecure) return undefined;
  return {
    ...(ca === undefined ? {} : { ca: readSecretFile('--tls-ca', ca) }),
    ...(cert === undefined ? {} : { cert: readSecretFile('--tls-cert', cert) }),
    ...(key === undefined ? {} : { key: readSecretFile('--tls-key', key) }),
    ...(insecure ? { rejectUnauthorized: false } : {}),
  };
}

export function cliLogger(args: ConnectionArgs): Logger {
  return createCliLogger(args['log-level'] as Parameters<typeof createCliLogger>[0]);
}

/**
 * The token settings: a token file is read now, so that a missing or empty one is refused at once
 * (exit 2), and handed to the client as a file, which reads it again before every connection attempt
 * (a rotated token is used from the next reconnect on; a read that fails then is retried with backoff).
 */
function tokenOptions(args: ConnectionArgs): { token: string } | { tokenFile: string } | undefined {
  const file = args['token-file'];
  if (file !== undefined) {
    try {
      checkedToken(readSecretFile('--token-file', file), `--token-file ${file}`);
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError((error as Error).message, 2, { cause: error });
    }
    return { tokenFile: file };
  }
  const token = args.token ?? (process.env.PULSAR_TOKEN === '' ? undefined : process.env.PULSAR_TOKEN);
  return token === undefined ? undefined : { token };
}

export function clientFromArgs(args: ConnectionArgs, logger: Logger): PulsarWsClient {
  const token = tokenOptions(args);
  const tls = tlsOptions(args);
  const connectTimeout = args['connect-timeout'];
  if (!(Number.isFinite(connectTimeout) && connectTimeout >= 0)) {
    throw new CliError(`--connect-timeout must be a number of seconds >= 0, got ${connectTimeout}`, 2);
  }
  try {
    return new PulsarWsClient({
      url: args.url,
      connectTimeoutMs: connectTimeout === 0 ? Infinity : connectTimeout * 1000,
      ...token,
      ...(tls === undefined ? {} : { tls }),
      logger,
    });
  } catch (error) {
    throw new CliError(`--url: ${(error as Error).message}`, 2, { cause: error });
  }
}

/**
 * Watches a stream's session: `check()` throws when it never connected, so that a run that ends by
 * --idle-exit against an unreachable server fails (exit 1) instead of reporting an empty success.
 */
export function connectionWatch(stream: Readable, url: string): { check: () => void } {
  let connected = false;
  stream.on('state', (state: string) => {
    if (state === 'connected') connected = true;
  });
  return {
    check: () => {
      // A reader that ended by itself (stopAtEnd on an empty topic) had nothing to connect for.
      if (!connected && !stream.readableEnded) {
        throw new CliError(`never connected to ${url} (the log says why); nothing was read`, 1);
      }
    },
  };
}

/**
 * The CLI's root logger: pino to stderr (stdout carries data), pretty on a TTY and JSON otherwise,
 * secrets redacted as a backstop.
 */
import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import type PinoPretty from 'pino-pretty';

/** pino-pretty, loaded only for a terminal: connectors piped to files never pay for it at start-up. */
function loadPretty(): typeof PinoPretty {
  return createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
}

export const LOG_LEVELS: readonly LevelWithSilent[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

export function createCliLogger(level: LevelWithSilent): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    redact: {
      paths: ['token', '*.token', 'headers.authorization', '*.headers.authorization'],
      censor: '[redacted]',
    },
  };
  // Synchronous pretty-printing on the same fd: no worker thread, and lines are not lost on exit.
  if (process.stderr.isTTY)
    return pino(options, loadPretty()({ destination: 2, sync: true, colorize: true }));
  return pino(options, pino.destination(2));
}

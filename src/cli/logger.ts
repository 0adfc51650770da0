/**
 * The CLI's root logger: pino to stderr (stdout carries data), pretty on a TTY and JSON otherwise,
 * secrets redacted as a backstop.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

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
  if (process.stderr.isTTY) return pino(options, pretty({ destination: 2, sync: true, colorize: true }));
  return pino(options, pino.destination(2));
}

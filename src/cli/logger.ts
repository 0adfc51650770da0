/** The CLI's root logger: pino to stderr (stdout carries data), secrets redacted as a backstop. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

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
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: ['token', '*.token', 'headers.authorization', '*.headers.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  );
}

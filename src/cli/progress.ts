/**
 * Progress of long jobs: a bar on a TTY (rate, totals, ETA when the size is known), periodic
 * structured log lines otherwise, nothing with --quiet. Always on stderr: stdout carries data.
 */
import { SingleBar } from 'cli-progress';
import type { Logger } from 'pino';

export interface Progress {
  /** Counts `messages` more (and `bytes`). */
  add(messages: number, bytes: number): void;
  readonly messages: number;
  readonly bytes: number;
  stop(): void;
}

export interface ProgressOptions {
  readonly label: string;
  readonly quiet: boolean;
  readonly logger: Logger;
  /** Known total (messages), for a percentage and an ETA. */
  readonly total?: number;
  /** Non-TTY: one log line this often, in ms. @default 5000 */
  readonly intervalMs?: number;
}

export function createProgress(options: ProgressOptions): Progress {
  let messages = 0;
  let bytes = 0;
  const started = Date.now();
  const tty = process.stderr.isTTY && !options.quiet;
  const bar = tty
    ? new SingleBar({
        format: `${options.label} {bar} {value}${options.total === undefined ? '' : '/{total}'} msgs | {rate} msg/s | {mb} MB${options.total === undefined ? '' : ' | ETA {eta}s'}`,
        stream: process.stderr,
        hideCursor: true,
      })
    : undefined;
  bar?.start(options.total ?? 0, 0, { rate: 0, mb: '0.0' });
  const rate = (): number => Math.round(messages / Math.max(0.001, (Date.now() - started) / 1000));
  const timer =
    !tty && !options.quiet
      ? setInterval(
          () => options.logger.info({ label: options.label, messages, bytes, rate: rate() }, 'progress'),
          options.intervalMs ?? 5000,
        )
      : undefined;
  timer?.unref();
  return {
    add(count, size) {
      messages += count;
      bytes += size;
      bar?.update(messages, { rate: rate(), mb: (bytes / 1e6).toFixed(1) });
      if (bar !== undefined && options.total === undefined) bar.setTotal(messages);
    },
    get messages() {
      return messages;
    },
    get bytes() {
      return bytes;
    },
    stop() {
      clearInterval(timer);
      bar?.stop();
    },
  };
}

/** The one-line summary: messages, bytes, seconds, msg/s. */
export function summaryLine(verb: string, progress: Progress, seconds: number): string {
  const rate = Math.round(progress.messages / Math.max(seconds, 0.001));
  return `${verb} ${progress.messages} messages, ${progress.bytes} bytes in ${seconds.toFixed(2)} s (${rate} msg/s)`;
}

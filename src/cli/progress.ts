/**
 * Progress of long jobs: a bar on a TTY (rate, totals, ETA when the size is known), periodic
 * structured log lines otherwise, nothing with --quiet. Always on stderr: stdout carries data.
 */
import { SingleBar } from 'cli-progress';
import type { Logger } from 'pino';

export interface Progress {
  /** Counts `messages` more, `bytes` of payload, and `inputBytes` of input (with framing; default `bytes`). */
  add(messages: number, bytes: number, inputBytes?: number): void;
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
  /** Known total of payload bytes (files being published), for a percentage and an ETA. */
  readonly totalBytes?: number;
  /** Non-TTY: one log line this often, in ms. @default 5000 */
  readonly intervalMs?: number;
}

export function createProgress(options: ProgressOptions): Progress {
  let messages = 0;
  let bytes = 0;
  let inputBytes = 0;
  const started = Date.now();
  const tty = process.stderr.isTTY && !options.quiet;
  // With a known size the bar counts bytes (files), with a known count messages; else it just counts.
  const byBytes = options.totalBytes !== undefined;
  const total = byBytes ? options.totalBytes : options.total;
  const counted = byBytes
    ? '{mb}/{totalMb} MB | {messages} msgs'
    : `{value}${total === undefined ? '' : '/{total}'} msgs | {mb} MB`;
  const bar = tty
    ? new SingleBar({
        format: `${options.label} {bar} ${counted} | {rate} msg/s${total === undefined ? '' : ' | ETA {eta}s'}`,
        stream: process.stderr,
        hideCursor: true,
      })
    : undefined;
  const totalMb = ((options.totalBytes ?? 0) / 1e6).toFixed(1);
  bar?.start(total ?? 0, 0, { rate: 0, mb: '0.0', totalMb, messages: 0 });
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
    add(count, size, input = size) {
      messages += count;
      bytes += size;
      inputBytes += input;
      bar?.update(byBytes ? inputBytes : messages, {
        rate: rate(),
        mb: ((byBytes ? inputBytes : bytes) / 1e6).toFixed(1),
        totalMb,
        messages,
      });
      if (bar !== undefined && total === undefined) bar.setTotal(messages);
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

/**
 * Resident memory of another process, read from /proc/<pid>/status (`VmRSS`), for tests that hold a
 * broker started as a child process to a memory bound: one reading, a sampler that keeps the peak,
 * and a wait for the value to settle after a burst of work.
 */
import { readFile } from 'node:fs/promises';

export const MB = 1024 * 1024;

/** The process's RSS in bytes; undefined once it is gone. */
export async function rssBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kilobytes = status === undefined ? undefined : /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kilobytes === undefined ? undefined : Number(kilobytes) * 1024;
}

/**
 * The process's peak RSS in bytes as the kernel kept it (`VmHWM`: every page it ever had resident at
 * once, not a sample that may miss a spike); undefined once it is gone.
 */
export async function peakRssBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kilobytes = status === undefined ? undefined : /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kilobytes === undefined ? undefined : Number(kilobytes) * 1024;
}

export interface RssSummary {
  readonly peakBytes: number;
  readonly lastBytes: number;
  readonly samples: number;
  /** True when a reading found the process gone. */
  readonly exited: boolean;
}

/** Samples a process's RSS every `intervalMs` until `stop()`, keeping the peak. */
export class RssSampler {
  private peak = 0;
  private last = 0;
  private count = 0;
  private gone = false;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 100,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const rss = await rssBytes(this.pid);
      if (rss === undefined) {
        this.gone = true;
        return;
      }
      this.count++;
      this.last = rss;
      this.peak = Math.max(this.peak, rss);
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
    }
  }

  /** The figures so far, while it keeps sampling. */
  summary(): RssSummary {
    return { peakBytes: this.peak, lastBytes: this.last, samples: this.count, exited: this.gone };
  }

  async stop(): Promise<RssSummary> {
    this.running = false;
    await this.loop;
    return this.summary();
  }
}

export interface SettleOptions {
  /** Settled when the readings of this long a window stay within `toleranceBytes` of each other. */
  readonly windowMs?: number;
  readonly toleranceBytes?: number;
  /** Give up waiting after this long and answer the last reading. */
  readonly timeoutMs?: number;
}

/** Waits until the process's RSS stops moving (or the timeout) and answers it; undefined once it is gone. */
export async function settledRss(pid: number, options: SettleOptions = {}): Promise<number | undefined> {
  const { windowMs = 2_000, toleranceBytes = 4 * MB, timeoutMs = 20_000 } = options;
  const deadline = Date.now() + timeoutMs;
  const window: { at: number; rss: number }[] = [];
  for (;;) {
    const rss = await rssBytes(pid);
    if (rss === undefined) return undefined;
    const now = Date.now();
    window.push({ at: now, rss });
    while ((window[0]?.at ?? now) < now - windowMs) window.shift();
    const values = window.map((reading) => reading.rss);
    const full = now - (window[0]?.at ?? now) >= windowMs * 0.9;
    if ((full && Math.max(...values) - Math.min(...values) <= toleranceBytes) || now >= deadline) return rss;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls until the process's RSS is at most `boundBytes` (or the timeout) and answers the last reading. */
export async function rssComingDownTo(
  pid: number,
  boundBytes: number,
  timeoutMs = 20_000,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rss = await rssBytes(pid);
    if (rss === undefined || rss <= boundBytes || Date.now() >= deadline) return rss;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export function megabytes(bytes: number): string {
  return `${(bytes / MB).toFixed(0)} MB`;
}

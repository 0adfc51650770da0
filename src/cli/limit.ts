/**
 * A pipeline stage that ends a consuming pipeline: after `count` messages, after `idleMs` with
 * nothing new, or once `stop` is aborted (a graceful stop on a signal). Ending here lets the sink
 * finish (flush, fsync) and acknowledge what it wrote, while the consumer keeps its session open for
 * those acks (its close grace).
 *
 * This stage sees every message, so it allocates as little as it can per message: one timer and one
 * stop listener for the whole run (refreshed, not recreated), and a race only while waiting. An
 * AbortController per message cost the `topic-to-file` process about a sixth of its CPU.
 */
import { Readable } from 'node:stream';
import { isConsumerMessage } from '../streams/consumer-message.js';

export interface LimitOptions<T = unknown> {
  readonly count?: number;
  readonly idleMs?: number;
  /** Ends the stage (as a limit would) when aborted. */
  readonly stop?: AbortSignal;
  /** Called with each message as it passes (after the limits let it through). */
  readonly onMessage?: (message: T) => void;
  /**
   * Whether a message counts towards `count` (all do by default). A sink that skips redeliveries
   * (exactly-once files) counts only what it will write, so `--count N` ends after N new messages,
   * not after N deliveries of which some were already in the file.
   */
  readonly counts?: (message: T) => boolean;
}

const IDLE: unique symbol = Symbol('idle');

/**
 * The `next()` that lost the race may still deliver a message, which was then handed out and never
 * written: nack it, so that the consumer's close does not wait for it and the broker redelivers it.
 */
function settleLate<T>(pending: Promise<IteratorResult<T>>): void {
  pending.then(
    (result) => {
      if (result.done !== true && isConsumerMessage(result.value)) result.value.nack();
    },
    // The source failed after the stage ended: the pipeline reports its own outcome.
    () => undefined,
  );
}

/**
 * Waits for the source's next message, or for the idle timeout or the stop signal, whichever comes
 * first. One timer and one listener serve every wait; only the wait in progress can be woken.
 */
class Wait {
  private wake: ((value: typeof IDLE) => void) | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onStop = (): void => this.wake?.(IDLE);

  constructor(
    idleMs: number | undefined,
    private readonly stop: AbortSignal | undefined,
  ) {
    if (idleMs !== undefined) {
      this.timer = setTimeout(() => this.wake?.(IDLE), idleMs);
      this.timer.unref();
    }
    stop?.addEventListener('abort', this.onStop, { once: true });
  }

  get needed(): boolean {
    return this.timer !== undefined || this.stop !== undefined;
  }

  get stopped(): boolean {
    return this.stop?.aborted === true;
  }

  race<T>(pending: Promise<IteratorResult<T>>): Promise<IteratorResult<T> | typeof IDLE> {
    if (this.stop?.aborted === true) return Promise.resolve(IDLE);
    return new Promise<IteratorResult<T> | typeof IDLE>((resolve, reject) => {
      const settle = (value: IteratorResult<T> | typeof IDLE): void => {
        this.wake = undefined;
        this.timer?.unref();
        resolve(value);
      };
      this.wake = settle;
      // The timer is held (ref) only while a wait is in progress, as a sleep would be.
      this.timer?.refresh().ref();
      pending.then(settle, (error: Error) => {
        this.wake = undefined;
        this.timer?.unref();
        reject(error);
      });
    });
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.stop?.removeEventListener('abort', this.onStop);
  }
}

export function limit<T>(options: LimitOptions<T>): (source: AsyncIterable<T>) => AsyncGenerator<T> {
  return async function* limited(source) {
    if (options.count === 0) return;
    const iterator = source[Symbol.asyncIterator]();
    const wait = new Wait(options.idleMs, options.stop);
    // A message already buffered in a stream source is read by `next()` at once (a Readable's
    // iterator reads its buffer synchronously): no race (a promise, a closure and a timer refresh
    // per message) is needed to be woken by the idle timer or the stop for it.
    const buffered = source instanceof Readable ? () => source.readableLength > 0 : () => false;
    try {
      let seen = 0;
      for (;;) {
        const racing = wait.needed && (wait.stopped || !buffered());
        const pending = iterator.next();
        const next = racing ? await wait.race(pending) : await pending;
        if (next === IDLE) {
          settleLate(pending);
          return;
        }
        if (next.done === true) return;
        options.onMessage?.(next.value);
        const counted = options.count !== undefined && (options.counts?.(next.value) ?? true);
        yield next.value;
        if (counted && ++seen >= (options.count ?? 0)) return;
      }
    } finally {
      wait.dispose();
    }
  };
}

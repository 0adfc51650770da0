/**
 * A pipeline stage that ends a consuming pipeline: after `count` messages, after `idleMs` with
 * nothing new, or once `stop` is aborted (a graceful stop on a signal). Ending here lets the sink finish (flush, fsync) and acknowledge what it wrote, while
 * the consumer keeps its session open for those acks (its close grace).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isConsumerMessage } from '../streams/consumer-message.js';

export interface LimitOptions {
  readonly count?: number;
  readonly idleMs?: number;
  /** Ends the stage (as a limit would) when aborted. */
  readonly stop?: AbortSignal;
}

const IDLE: unique symbol = Symbol('idle');

/** Settles with IDLE once `signal` aborts (never, without one). */
function stopped(signal: AbortSignal | undefined): Promise<typeof IDLE> {
  if (signal === undefined) return new Promise(() => undefined);
  if (signal.aborted) return Promise.resolve(IDLE);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(IDLE), { once: true }));
}

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

export function limit<T>(options: LimitOptions): (source: AsyncIterable<T>) => AsyncGenerator<T> {
  return async function* limited(source) {
    if (options.count === 0) return;
    const stop = stopped(options.stop);
    const iterator = source[Symbol.asyncIterator]();
    let seen = 0;
    for (;;) {
      const idle = new AbortController();
      const pending = iterator.next();
      const next = await Promise.race([
        pending,
        stop,
        ...(options.idleMs === undefined
          ? []
          : [
              sleep<typeof IDLE>(options.idleMs, IDLE, { signal: idle.signal }).catch(
                (): typeof IDLE => IDLE,
              ),
            ]),
      ]);
      idle.abort();
      if (next === IDLE) {
        settleLate(pending);
        return;
      }
      if (next.done === true) return;
      yield next.value;
      if (options.count !== undefined && ++seen >= options.count) return;
    }
  };
}

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

/**
 * Settles with IDLE once `stop` aborts. The listener goes when `done` aborts: a promise shared by
 * every iteration would collect one reaction per `Promise.race`, each holding that iteration's
 * message, for as long as it stays pending (the whole run).
 */
function stopped(stop: AbortSignal, done: AbortSignal): Promise<typeof IDLE> {
  if (stop.aborted) return Promise.resolve(IDLE);
  return new Promise((resolve) =>
    stop.addEventListener('abort', () => resolve(IDLE), { once: true, signal: done }),
  );
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
    const iterator = source[Symbol.asyncIterator]();
    let seen = 0;
    for (;;) {
      const idle = new AbortController();
      const pending = iterator.next();
      const racers: Promise<IteratorResult<T> | typeof IDLE>[] = [pending];
      if (options.idleMs !== undefined) {
        racers.push(
          sleep<typeof IDLE>(options.idleMs, IDLE, { signal: idle.signal }).catch((): typeof IDLE => IDLE),
        );
      }
      if (options.stop !== undefined) racers.push(stopped(options.stop, idle.signal));
      const next = racers.length === 1 ? await pending : await Promise.race(racers);
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

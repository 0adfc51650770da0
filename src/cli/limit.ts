/**
 * A pipeline stage that ends a consuming pipeline: after `count` messages, or after `idleMs` with
 * nothing new. Ending here lets the sink finish (flush, fsync) and acknowledge what it wrote, while
 * the consumer keeps its session open for those acks (its close grace).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface LimitOptions {
  readonly count?: number;
  readonly idleMs?: number;
}

const IDLE: unique symbol = Symbol('idle');

export function limit<T>(options: LimitOptions): (source: AsyncIterable<T>) => AsyncGenerator<T> {
  return async function* limited(source) {
    if (options.count === 0) return;
    const iterator = source[Symbol.asyncIterator]();
    let seen = 0;
    for (;;) {
      const idle = new AbortController();
      const next =
        options.idleMs === undefined
          ? await iterator.next()
          : await Promise.race([
              iterator.next(),
              sleep<typeof IDLE>(options.idleMs, IDLE, { signal: idle.signal }).catch(
                (): typeof IDLE => IDLE,
              ),
            ]);
      idle.abort();
      if (next === IDLE || next.done === true) return;
      yield next.value;
      if (options.count !== undefined && ++seen >= options.count) return;
    }
  };
}

/**
 * A bounded count of messages in flight (handed to a producer and not yet acknowledged by the
 * broker): the webhook source and the sidecar's `/publish` hold one per process and one per request,
 * so a body of half a million tiny records streams into the producer a window at a time instead of
 * becoming half a million pending messages at once. Taking room waits, in order of arrival, until an
 * acknowledgement gives some back.
 */
import { InvalidArgumentError } from '../errors.js';
import { wakeOrAbort } from './wake-or-abort.js';

export class MessageWindow {
  private used = 0;
  /**
   * Waiting takers, first come first served. Bounded by the requests handled at once: each request
   * waits for one message's room at a time.
   */
  private readonly waiters = new Set<() => void>();

  /** @throws InvalidArgumentError unless `size` is a positive integer; `name` is the option's. */
  constructor(
    readonly size: number,
    name = 'size',
  ) {
    if (!Number.isInteger(size) || size < 1) {
      throw new InvalidArgumentError(`expected \`${name}\` to be a positive integer, got ${size}`);
    }
  }

  /** Messages in flight now. */
  get inFlight(): number {
    return this.used;
  }

  /** Takes room for one message if there is some (and nobody waits before us). */
  tryTake(): boolean {
    if (this.used >= this.size || this.waiters.size > 0) return false;
    this.used += 1;
    return true;
  }

  /**
   * Resolves once room for one message is taken; rejects with `signal.reason` if `signal` aborts
   * first (nothing is taken then).
   */
  take(signal: AbortSignal): Promise<void> {
    if (this.tryTake()) return Promise.resolve();
    // `give()` takes the room for a waiter before waking it.
    return wakeOrAbort(signal, (wake) => {
      this.waiters.add(wake);
      return () => this.waiters.delete(wake);
    });
  }

  /** Gives back room for `count` messages (acknowledged, or given up) and wakes waiters into it. */
  give(count = 1): void {
    this.used = Math.max(0, this.used - count);
    for (const wake of this.waiters) {
      if (this.used >= this.size) break;
      this.waiters.delete(wake);
      this.used += 1;
      wake();
    }
  }
}

/** A wake-up for waiters on "something changed" (new entries, a rewind, a close). */
export class Signal {
  private waiters: (() => void)[] = [];

  /** Resolves at the next `notify()`. Check the condition first, then wait: no wake-up is lost. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

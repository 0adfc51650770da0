/**
 * Entries of a Shared or Key_Shared subscription held back until their `deliverAt` (delayed
 * delivery), as Pulsar's in-memory delayed delivery tracker holds them: a min-heap by due time and
 * one timer for the earliest, whatever the number held. Node clamps a timer longer than about 24.8
 * days to 1 ms, so a far `deliverAt` is reached through a chain of timers of at most that length.
 *
 * Memory: one heap slot and one set member per held entry (about 100 bytes), released when it is due.
 */

/** The longest delay Node's timers take (2^31 - 1 ms); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

interface Held {
  readonly dueAt: number;
  readonly ordinal: number;
}

export class DelayedDeliveries {
  private readonly heap: Held[] = [];
  private readonly held = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (undefined when none is armed). */
  private armedFor: number | undefined;

  /** `onDue` gets the ordinals whose time came, in due order. */
  constructor(
    private readonly onDue: (ordinals: readonly number[]) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.held.size;
  }

  has(ordinal: number): boolean {
    return this.held.has(ordinal);
  }

  /** Holds `ordinal` until `dueAt` (ms since the epoch). */
  hold(ordinal: number, dueAt: number): void {
    if (this.held.has(ordinal)) return;
    this.held.add(ordinal);
    this.push({ dueAt, ordinal });
    // Only an entry due before the armed timer needs the timer moved.
    if (this.armedFor === undefined || dueAt < this.armedFor) this.arm();
  }

  /** Drops everything held (the subscription closes or rewinds). */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = undefined;
    this.heap.length = 0;
    this.held.clear();
  }

  private arm(): void {
    clearTimeout(this.timer);
    const next = this.heap[0];
    if (next === undefined) {
      this.timer = undefined;
      this.armedFor = undefined;
      return;
    }
    const delay = Math.min(Math.max(next.dueAt - this.now(), 0), MAX_TIMER_MS);
    this.armedFor = this.now() + delay;
    this.timer = setTimeout(() => this.release(), delay);
  }

  private release(): void {
    const now = this.now();
    const due: number[] = [];
    for (let next = this.heap[0]; next !== undefined && next.dueAt <= now; next = this.heap[0]) {
      this.pop();
      this.held.delete(next.ordinal);
      due.push(next.ordinal);
    }
    // Not yet due (a chained long delay): the timer is armed again for the rest of the way.
    this.arm();
    if (due.length > 0) this.onDue(due);
  }

  private push(item: Held): void {
    const heap = this.heap;
    heap.push(item);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if ((heap[parent] as Held).dueAt <= item.dueAt) break;
      heap[index] = heap[parent] as Held;
      index = parent;
    }
    heap[index] = item;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && (heap[right] as Held).dueAt < (heap[left] as Held).dueAt ? right : left;
      if ((heap[child] as Held).dueAt >= last.dueAt) break;
      heap[index] = heap[child] as Held;
      index = child;
    }
    heap[index] = last;
  }
}

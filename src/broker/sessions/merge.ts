/**
 * Merges several "next item" sources into one, for consumers and readers on a partitioned topic.
 * Each source has at most one request in flight, so at most one item per source waits here: the
 * buffer is bounded by the number of partitions.
 */
export class MergedSources<T> {
  private readonly sources: (() => Promise<T | null>)[];
  private readonly inFlight: (Promise<{ index: number; item: T | null }> | undefined)[];
  private readonly finished: boolean[];
  private readonly ready: { index: number; item: T }[] = [];
  /** Resolves the wait of `next` when a source is added (a pattern consumer found a new topic). */
  private wakeUp: (() => void) | undefined;
  private ended = false;

  /** With `growable`, `next` waits for added sources instead of ending when none is left. */
  constructor(
    sources: readonly (() => Promise<T | null>)[],
    private readonly growable = false,
  ) {
    this.sources = [...sources];
    this.inFlight = sources.map(() => undefined);
    this.finished = sources.map(() => false);
  }

  add(source: () => Promise<T | null>): void {
    this.sources.push(source);
    this.inFlight.push(undefined);
    this.finished.push(false);
    this.wakeUp?.();
  }

  /** Ends a growable merge: `next` answers null once its sources are done. */
  end(): void {
    this.ended = true;
    this.wakeUp?.();
  }

  /** The next item of any source; null once every source has ended. */
  async next(): Promise<T | null> {
    for (;;) {
      const ready = this.ready.shift();
      if (ready !== undefined) return ready.item;
      const active: Promise<{ index: number; item: T | null }>[] = [];
      this.sources.forEach((source, index) => {
        if (this.finished[index] === true) return;
        this.inFlight[index] ??= source().then((item) => ({ index, item }));
        const pending = this.inFlight[index];
        if (pending !== undefined) active.push(pending);
      });
      const open = this.growable && !this.ended;
      if (active.length === 0 && !open) return null;
      const added = open
        ? new Promise<undefined>((resolve) => (this.wakeUp = () => resolve(undefined)))
        : undefined;
      const first = await Promise.race(added === undefined ? active : [...active, added]);
      this.wakeUp = undefined;
      if (first === undefined) continue;
      const { index, item } = first;
      this.inFlight[index] = undefined;
      if (item === null) this.finished[index] = true;
      else this.ready.push({ index, item });
    }
  }
}

/**
 * Merges several "next item" sources into one, for consumers and readers on a partitioned topic.
 * Each source has at most one request in flight, so at most one item per source waits here: the
 * buffer is bounded by the number of partitions.
 */
export class MergedSources<T> {
  private readonly inFlight: (Promise<{ index: number; item: T | null }> | undefined)[];
  private readonly finished: boolean[];
  private readonly ready: { index: number; item: T }[] = [];

  constructor(private readonly sources: readonly (() => Promise<T | null>)[]) {
    this.inFlight = sources.map(() => undefined);
    this.finished = sources.map(() => false);
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
      if (active.length === 0) return null;
      const { index, item } = await Promise.race(active);
      this.inFlight[index] = undefined;
      if (item === null) this.finished[index] = true;
      else this.ready.push({ index, item });
    }
  }
}

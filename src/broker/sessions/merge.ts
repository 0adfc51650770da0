/**
 * Merges several "next item" sources into one, for consumers and readers of partitioned topics, of
 * several topics, or of a pattern. Memory is proportional to the number of sources, never to traffic:
 *
 * - each source has at most one request in flight, with exactly one reaction attached to it (no
 *   `Promise.race` over the same pending promise again and again: every race adds a reaction that
 *   keeps the race's result, a delivered entry, alive for as long as an idle source stays pending);
 * - a source's answer goes to a ready queue, and the source is asked again only once the queue is
 *   empty, so the queue holds at most one item per source.
 */
type Source<T> = () => Promise<T | null>;

interface SourceState<T> {
  readonly pull: Source<T>;
  /** A request is in flight. */
  pulling: boolean;
  /** The source answered null: it has nothing more. */
  finished: boolean;
}

export class MergedSources<T> {
  private readonly sources: SourceState<T>[];
  private readonly ready: T[] = [];
  /** The first failure of a source; `next` throws it. */
  private failure: Error | undefined;
  /** Resolves the wait of `next`: an answer arrived, a source was added, or the merge ended. */
  private wakeUp: (() => void) | undefined;
  private ended = false;

  /** With `growable`, `next` waits for added sources instead of ending when none is left. */
  constructor(
    sources: readonly Source<T>[],
    private readonly growable = false,
  ) {
    this.sources = sources.map((pull) => ({ pull, pulling: false, finished: false }));
  }

  add(source: Source<T>): void {
    this.sources.push({ pull: source, pulling: false, finished: false });
    this.wake();
  }

  /** Ends a growable merge: `next` answers null once its sources are done. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /** The next item of any source; null once every source has ended. */
  async next(): Promise<T | null> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const item = this.ready.shift();
      if (item !== undefined) return item;
      let active = 0;
      for (const source of this.sources) {
        if (source.finished) continue;
        active++;
        if (!source.pulling) this.pull(source);
      }
      if (active === 0 && !(this.growable && !this.ended)) return null;
      await new Promise<void>((resolve) => (this.wakeUp = resolve));
    }
  }

  private pull(source: SourceState<T>): void {
    source.pulling = true;
    source.pull().then(
      (item) => {
        source.pulling = false;
        if (item === null) source.finished = true;
        else this.ready.push(item);
        this.wake();
      },
      (error: unknown) => {
        source.pulling = false;
        source.finished = true;
        this.failure ??= error as Error;
        this.wake();
      },
    );
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }
}

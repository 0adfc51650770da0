/**
 * How a stream merges several Readables (multi-topic consumers, partitioned readers): one item from
 * each source in turn, each source's items in their order, for as long as the merged stream wants
 * more. The merged stream calls `want()` from its `_read` and `drain()` whenever a source becomes
 * readable; a push that fills its buffer stops the merge until the next `_read`.
 */
import type { Readable } from 'node:stream';

export class RoundRobin<S extends Readable> {
  private turn = 0;
  private wanting = false;
  private draining = false;

  constructor(
    /** The sources as they are now. */
    private readonly sources: () => readonly S[],
    /** How many sources there are: when a push changes it (it closed one), `sources` is read again. */
    private readonly count: () => number,
    /** Pushes an item read from `source` into the merged stream; false once its buffer is full. */
    private readonly push: (item: unknown, source: S) => boolean,
  ) {}

  /** The merged stream wants more (its `_read`): merge until it is full or every source is empty. */
  want(): void {
    this.wanting = true;
    this.drain();
  }

  /**
   * Moves items from the sources, one from each in turn, while the merged stream wants more. A read
   * that returns null also lets an ended source emit its `'end'`. Re-entrant calls (a push that makes
   * a source readable) return at once: the loop in progress goes on.
   */
  drain(): void {
    if (!this.wanting || this.draining) return;
    this.draining = true;
    try {
      let sources = this.sources();
      let idle = 0;
      while (this.wanting && idle < sources.length) {
        const source = sources[this.turn % sources.length];
        this.turn = (this.turn + 1) % sources.length;
        const item: unknown = source === undefined || source.readableEnded ? null : source.read();
        if (source === undefined || item === null) {
          idle++;
          continue;
        }
        idle = 0;
        if (!this.push(item, source)) this.wanting = false;
        if (sources.length !== this.count()) sources = this.sources();
      }
    } finally {
      this.draining = false;
    }
  }
}

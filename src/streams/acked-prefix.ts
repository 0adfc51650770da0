/**
 * The acknowledged prefix of a numbered sequence: acknowledgements may come out of order (different
 * partitions, or sessions, answer at their own pace), and what a restart may resume after is only
 * the run of positions from the start that are all acknowledged. Out-of-order acks wait here until
 * the gap before them closes; the caller bounds how many there can be (a producer holds its writes
 * once the span from the oldest unacknowledged position to the newest sent reaches its window).
 */
export class AckedPrefix<T> {
  private first: number;
  private readonly waiting = new Map<number, T>();

  /** `first`: the first position not yet acknowledged. */
  constructor(first: number) {
    this.first = first;
  }

  /** The first position not yet acknowledged (every one before it is). */
  get next(): number {
    return this.first;
  }

  /** Acknowledgements past a gap, waiting for it to close. */
  get waitingCount(): number {
    return this.waiting.size;
  }

  /**
   * Records `position` acknowledged with `value`; returns the values of the positions the prefix
   * advanced over, in order (empty while a position before it is unacknowledged).
   */
  acked(position: number, value: T): T[] {
    if (position < this.first) return [];
    this.waiting.set(position, value);
    const advanced: T[] = [];
    for (
      let entry = this.waiting.get(this.first);
      entry !== undefined;
      entry = this.waiting.get(this.first)
    ) {
      this.waiting.delete(this.first);
      this.first += 1;
      advanced.push(entry);
    }
    return advanced;
  }
}

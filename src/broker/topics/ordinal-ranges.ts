/**
 * A set of log ordinals kept as sorted, disjoint ranges (Pulsar keeps a cursor's individually
 * deleted messages the same way): memory and the cost of each change grow with the number of gaps
 * between members, not with the number of members. Contiguous acks, or a consumer's whole batch of
 * unacknowledged messages to replay, are one range however long.
 */
export class OrdinalRanges {
  /** Range i covers [starts[i], ends[i]); ranges are sorted and never touch. */
  private starts: number[] = [];
  private ends: number[] = [];
  private count = 0;

  /** Members in all. */
  get size(): number {
    return this.count;
  }

  /** Ranges in all (what memory and persistence cost). */
  get rangeCount(): number {
    return this.starts.length;
  }

  /** The smallest member. */
  first(): number | undefined {
    return this.starts[0];
  }

  /** Index of the last range starting at or before `ordinal` (-1 when none does). */
  private rangeAtOrBefore(ordinal: number): number {
    let low = 0;
    let high = this.starts.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if ((this.starts[mid] as number) <= ordinal) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  }

  has(ordinal: number): boolean {
    const index = this.rangeAtOrBefore(ordinal);
    return index >= 0 && ordinal < (this.ends[index] as number);
  }

  /** Adds a member; false when it was one already. */
  add(ordinal: number): boolean {
    const index = this.rangeAtOrBefore(ordinal);
    if (index >= 0 && ordinal < (this.ends[index] as number)) return false;
    const joinsLeft = index >= 0 && this.ends[index] === ordinal;
    const joinsRight = this.starts[index + 1] === ordinal + 1;
    if (joinsLeft && joinsRight) {
      this.ends[index] = this.ends[index + 1] as number;
      this.starts.splice(index + 1, 1);
      this.ends.splice(index + 1, 1);
    } else if (joinsLeft) {
      this.ends[index] = ordinal + 1;
    } else if (joinsRight) {
      this.starts[index + 1] = ordinal;
    } else {
      this.starts.splice(index + 1, 0, ordinal);
      this.ends.splice(index + 1, 0, ordinal + 1);
    }
    this.count++;
    return true;
  }

  /** Adds every ordinal of [start, end). */
  addRange(start: number, end: number): void {
    for (let ordinal = start; ordinal < end; ordinal++) this.add(ordinal);
  }

  /** Removes a member; false when it was none. */
  delete(ordinal: number): boolean {
    const index = this.rangeAtOrBefore(ordinal);
    if (index < 0) return false;
    const start = this.starts[index] as number;
    const end = this.ends[index] as number;
    if (ordinal >= end) return false;
    if (start === ordinal && end === ordinal + 1) {
      this.starts.splice(index, 1);
      this.ends.splice(index, 1);
    } else if (start === ordinal) {
      this.starts[index] = ordinal + 1;
    } else if (end === ordinal + 1) {
      this.ends[index] = ordinal;
    } else {
      this.ends[index] = ordinal;
      this.starts.splice(index + 1, 0, ordinal + 1);
      this.ends.splice(index + 1, 0, end);
    }
    this.count--;
    return true;
  }

  /** Removes every member below `ordinal`. */
  deleteBelow(ordinal: number): void {
    let whole = 0;
    while (whole < this.starts.length && (this.ends[whole] as number) <= ordinal) {
      this.count -= (this.ends[whole] as number) - (this.starts[whole] as number);
      whole++;
    }
    if (whole > 0) {
      this.starts.splice(0, whole);
      this.ends.splice(0, whole);
    }
    const first = this.starts[0];
    if (first !== undefined && first < ordinal) {
      this.count -= ordinal - first;
      this.starts[0] = ordinal;
    }
  }

  /**
   * When the first range starts at `ordinal`, removes it and answers where it ended (exclusive):
   * how a cursor's acknowledged prefix swallows the acks that were waiting for it.
   */
  takeRangeAt(ordinal: number): number | undefined {
    if (this.starts[0] !== ordinal) return undefined;
    const end = this.ends[0] as number;
    this.starts.shift();
    this.ends.shift();
    this.count -= end - ordinal;
    return end;
  }

  /** Members below `ordinal`. */
  countBelow(ordinal: number): number {
    let counted = 0;
    for (let index = 0; index < this.starts.length; index++) {
      const start = this.starts[index] as number;
      if (start >= ordinal) break;
      counted += Math.min(this.ends[index] as number, ordinal) - start;
    }
    return counted;
  }

  /** Members in ascending order. */
  *values(): IterableIterator<number> {
    for (let index = 0; index < this.starts.length; index++) {
      for (let ordinal = this.starts[index] as number; ordinal < (this.ends[index] as number); ordinal++) {
        yield ordinal;
      }
    }
  }

  /** The ranges, as [first, last] (both included), in ascending order. */
  *closedRanges(): IterableIterator<readonly [number, number]> {
    for (let index = 0; index < this.starts.length; index++) {
      yield [this.starts[index] as number, (this.ends[index] as number) - 1];
    }
  }

  clear(): void {
    this.starts = [];
    this.ends = [];
    this.count = 0;
  }
}

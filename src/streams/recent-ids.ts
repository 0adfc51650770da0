/**
 * The last `capacity` distinct ids remembered, oldest forgotten first, with O(1) add and lookup: a
 * ring of slots plus a set. (Forgetting the oldest entry of a plain Set through `values().next()`
 * costs more with every deletion, since the iterator walks the deleted slots at its front.)
 */
export class RecentIds {
  private readonly slots: (string | undefined)[];
  private readonly members = new Set<string>();
  private next = 0;

  constructor(private readonly capacity: number) {
    this.slots = new Array<string | undefined>(capacity);
  }

  add(id: string): void {
    if (this.members.has(id)) return;
    const forgotten = this.slots[this.next];
    if (forgotten !== undefined) this.members.delete(forgotten);
    this.slots[this.next] = id;
    this.members.add(id);
    this.next = (this.next + 1) % this.capacity;
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  /** Oldest first is not promised; every remembered id once. */
  values(): IterableIterator<string> {
    return this.members.values();
  }
}

/** A queue with a fixed capacity: `push` refuses (the caller drops) when it is full. */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private waiter: ((item: T | null) => void) | undefined;
  private closed = false;

  constructor(private readonly capacity: number) {}

  /** False when full or closed: the item was not taken. */
  push(item: T): boolean {
    if (this.closed) return false;
    if (this.waiter !== undefined) {
      const wake = this.waiter;
      this.waiter = undefined;
      wake(item);
      return true;
    }
    if (this.items.length >= this.capacity) return false;
    this.items.push(item);
    return true;
  }

  get hasRoom(): boolean {
    return !this.closed && (this.waiter !== undefined || this.items.length < this.capacity);
  }

  /** The next item, waiting for one; null once closed. One caller at a time. */
  next(): Promise<T | null> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  close(): void {
    this.closed = true;
    this.items.length = 0;
    this.waiter?.(null);
    this.waiter = undefined;
  }
}

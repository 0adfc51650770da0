/**
 * The newest entries of a topic's log, decoded, for consumers and readers that keep up: a bounded
 * number of bytes (`cacheBytesPerTopic`), filled at append time, oldest dropped first.
 *
 * Entries arrive in ordinal order, so what is cached is always a run of consecutive ordinals
 * `[oldest, next)`: eviction deletes the known oldest key and moves it on by one, never searching the
 * map (iterating a Map from its front after deletions walks every deleted slot first).
 */
import { cachedSize, type StoredMessage } from './record-codec.js';

export class ReadCache {
  private readonly messages = new Map<number, StoredMessage>();
  /** The oldest cached ordinal; equal to `next` when the cache is empty. */
  private oldest = 0;
  /** The ordinal after the newest cached one. */
  private next = 0;
  private used = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes the cached messages count for (see `cachedSize`). */
  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.messages.size;
  }

  /** Caches the message just appended at `ordinal`, dropping the oldest ones beyond the bound. */
  add(ordinal: number, message: StoredMessage): void {
    // Appends come in order; anything else starts the run afresh rather than leaving a gap in it.
    if (ordinal !== this.next) this.clear(ordinal);
    this.messages.set(ordinal, message);
    this.next = ordinal + 1;
    this.used += cachedSize(message);
    while (this.used > this.maxBytes) this.dropOldest();
  }

  get(ordinal: number): StoredMessage | undefined {
    return this.messages.get(ordinal);
  }

  /** Drops every entry before `ordinal` (retention deleted them). */
  forgetBefore(ordinal: number): void {
    while (this.oldest < this.next && this.oldest < ordinal) this.dropOldest();
  }

  private dropOldest(): void {
    const message = this.messages.get(this.oldest);
    if (message !== undefined) {
      this.messages.delete(this.oldest);
      this.used -= cachedSize(message);
    }
    this.oldest++;
  }

  private clear(from: number): void {
    this.messages.clear();
    this.used = 0;
    this.oldest = from;
    this.next = from;
  }
}

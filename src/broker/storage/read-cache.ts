/**
 * The newest entries of a topic's log, decoded, for consumers and readers that keep up: a bounded
 * number of bytes (`cacheBytesPerTopic`), filled at append time while the topic has readers attached
 * (see `readerAttached`), oldest dropped first.
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
  /** Readers of the topic attached now (see `readerAttached`). */
  private readers = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes the cached messages count for (see `cachedSize`). */
  get bytes(): number {
    return this.used;
  }

  /**
   * Someone reads the topic as it grows (a subscription with a consumer connected, or a reader):
   * only while someone does is the cache filled, as Pulsar caches entries only while a cursor is
   * active. A topic written with nobody reading it keeps no messages in memory, and a broker serving
   * such topics makes no garbage of them for its old generation to collect.
   */
  readerAttached(): void {
    this.readers++;
  }

  /**
   * A reader left; the last one to leave empties the cache.
   * @returns false when no reader was attached (an unpaired call: nothing changes)
   */
  readerDetached(): boolean {
    if (this.readers === 0) return false;
    this.readers--;
    if (this.readers === 0) this.clear();
    return true;
  }

  /** True while appends should be added (a reader is attached). */
  get filling(): boolean {
    return this.readers > 0;
  }

  get size(): number {
    return this.messages.size;
  }

  /** Caches the message just appended at `ordinal`, dropping the oldest ones beyond the bound. */
  add(ordinal: number, message: StoredMessage): void {
    // Appends come in order; anything else starts the run afresh rather than leaving a gap in it.
    if (ordinal !== this.next) this.restartAt(ordinal);
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

  /** Drops every entry (nobody reads the topic any more); the next `add` starts a new run. */
  private clear(): void {
    this.restartAt(this.next);
  }

  private restartAt(from: number): void {
    this.messages.clear();
    this.used = 0;
    this.oldest = from;
    this.next = from;
  }
}

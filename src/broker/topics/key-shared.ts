/**
 * Key_Shared (AUTO_SPLIT) as Pulsar 4.0 dispatches it:
 *
 * - Keys and consumers share the slots 1..65535. A key's slot is Murmur3(UTF-8 key) (masked
 *   non-negative) mod 65535, plus 1 (checked against the `keyHashRangeArrays` Pulsar 4.0.7 reports
 *   in its subscription stats). Messages without a key are spread over the consumers, as Pulsar
 *   4.0.7 was seen to do through its WebSocket proxy: here by their position in the topic.
 * - Consistent hashing: each consumer puts 100 points on a ring at the slots of
 *   `name + "\0" + nameIndex + "\0" + i` (`nameIndex` tells apart consumers of the same name); a slot
 *   belongs to the consumer of the first point at or after it, wrapping around. A point taken twice
 *   goes to the later consumer and leaves the ring with it.
 * - Draining: a slot whose owner changed is not dispatched to the new owner while another consumer
 *   still has unacknowledged messages of it (Pulsar 4.0's draining hashes), so a joining consumer
 *   never gets a key before the earlier messages of that key are acknowledged.
 */
import { murmur3 } from './key-hash.js';

/** Slots are 1..KEY_SLOTS: Pulsar keeps 0 for "no hash" in its dispatcher. */
export const KEY_SLOTS = 65535;
const POINTS_PER_CONSUMER = 100;
/** The slot of a message key. */
export function keySlot(key: string): number {
  return ((murmur3(key) & 0x7fffffff) % KEY_SLOTS) + 1;
}

/** The slot of a message: its key's, or one spread by its position when it has none. */
export function messageSlot(key: string | undefined, ordinal: number): number {
  return key === undefined ? (ordinal % KEY_SLOTS) + 1 : keySlot(key);
}

export interface RingConsumer {
  readonly name: string;
}

export class ConsistentHashRing<T extends RingConsumer> {
  private readonly points = new Map<number, T>();
  private readonly nameIndexes = new Map<T, number>();
  /** Point slots in ascending order, rebuilt lazily after a change. */
  private sorted: number[] | undefined;

  private pointsOf(consumer: T, nameIndex: number): number[] {
    return Array.from({ length: POINTS_PER_CONSUMER }, (_, i) =>
      keySlot(`${consumer.name}\0${nameIndex}\0${i}`),
    );
  }

  add(consumer: T): void {
    const taken = new Set(
      [...this.nameIndexes].filter(([other]) => other.name === consumer.name).map(([, index]) => index),
    );
    let nameIndex = 0;
    while (taken.has(nameIndex)) nameIndex++;
    this.nameIndexes.set(consumer, nameIndex);
    for (const slot of this.pointsOf(consumer, nameIndex)) this.points.set(slot, consumer);
    this.sorted = undefined;
  }

  remove(consumer: T): void {
    const nameIndex = this.nameIndexes.get(consumer);
    if (nameIndex === undefined) return;
    this.nameIndexes.delete(consumer);
    for (const slot of this.pointsOf(consumer, nameIndex)) {
      if (this.points.get(slot) === consumer) this.points.delete(slot);
    }
    this.sorted = undefined;
  }

  /** Puts `to` where `from` is (same name: the handshake's placeholder becomes the live consumer). */
  replace(from: T, to: T): void {
    const nameIndex = this.nameIndexes.get(from);
    if (nameIndex === undefined) return;
    this.nameIndexes.delete(from);
    this.nameIndexes.set(to, nameIndex);
    for (const [slot, owner] of this.points) if (owner === from) this.points.set(slot, to);
  }

  clear(): void {
    this.points.clear();
    this.nameIndexes.clear();
    this.sorted = undefined;
  }

  /** The consumer owning `slot`. */
  select(slot: number): T | undefined {
    this.sorted ??= [...this.points.keys()].sort((a, b) => a - b);
    const points = this.sorted;
    let low = 0;
    let high = points.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((points[mid] ?? 0) < slot) low = mid + 1;
      else high = mid;
    }
    const point = points[low] ?? points[0];
    return point === undefined ? undefined : this.points.get(point);
  }
}

/** Which consumers hold unacknowledged messages of each slot (for draining). */
export class PendingSlots<T> {
  private readonly slotOf = new Map<number, { slot: number; consumer: T }>();
  private readonly holders = new Map<number, Map<T, number>>();

  track(ordinal: number, slot: number, consumer: T): void {
    this.untrack(ordinal);
    this.slotOf.set(ordinal, { slot, consumer });
    const counts = this.holders.get(slot) ?? new Map<T, number>();
    counts.set(consumer, (counts.get(consumer) ?? 0) + 1);
    this.holders.set(slot, counts);
  }

  untrack(ordinal: number): void {
    const held = this.slotOf.get(ordinal);
    if (held === undefined) return;
    this.slotOf.delete(ordinal);
    const counts = this.holders.get(held.slot);
    const count = (counts?.get(held.consumer) ?? 0) - 1;
    if (count > 0) counts?.set(held.consumer, count);
    else counts?.delete(held.consumer);
    if (counts?.size === 0) this.holders.delete(held.slot);
  }

  clear(): void {
    this.slotOf.clear();
    this.holders.clear();
  }

  /** True when `ordinal` is held and others may wait for its slot (it was not the last one). */
  drainingAny(ordinal: number): boolean {
    return this.slotOf.has(ordinal);
  }

  /** True while a consumer other than `consumer` has unacknowledged messages of `slot`. */
  drainingFor(slot: number, consumer: T): boolean {
    const counts = this.holders.get(slot);
    if (counts === undefined) return false;
    for (const holder of counts.keys()) if (holder !== consumer) return true;
    return false;
  }
}

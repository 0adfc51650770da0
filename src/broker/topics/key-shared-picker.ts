/**
 * Key_Shared's dispatch policy for one subscription: which of the candidate entries a consumer may
 * take, by the slot of its key (key-shared.ts: the consistent-hash ring and the draining of keys that
 * moved to another consumer). The subscription owns the entries' state (acknowledged, dispatched,
 * held back); this owns only what Key_Shared adds: the ring, each looked-at entry's slot, and who
 * holds unacknowledged entries of each slot.
 *
 * Bounds: a slot is remembered per entry looked at and not yet acknowledged, so at most the
 * look-ahead past the read position plus what consumers hold unacknowledged (unacked-messages.ts).
 */
import { CorruptEntryError, EntryDeletedError } from '../storage/log-errors.js';
import type { LogEntry, MessageLog } from '../storage/message-log.js';
import { ConsistentHashRing, messageSlot, PendingSlots, type RingConsumer } from './key-shared.js';

/** What a pick asks of the subscription about an entry or a consumer. */
export interface KeySharedChecks<C> {
  /** Not acknowledged, not dispatched, not held back, not known to be unreadable. */
  isAvailable(ordinal: number): boolean;
  isAttached(consumer: C): boolean;
  /** The entry is damaged on disk: dispatch skips it from now on. */
  markUnreadable(ordinal: number): void;
  /** Marks the picked entry as dispatched to `consumer`. @returns `ordinal` */
  claim(ordinal: number, consumer: C): number;
}

export class KeySharedPicker<C extends RingConsumer> {
  /** Which consumer owns which key slot. */
  private readonly ring = new ConsistentHashRing<C>();
  /** Key slots of entries looked at but not yet acknowledged. */
  private readonly slots = new Map<number, number>();
  /** Who holds unacknowledged entries of each slot (keys being drained). */
  private readonly pendingSlots = new PendingSlots<C>();
  /** The last entry read for its slot, handed to its delivery if it is the one picked. */
  private readForSlot: LogEntry | undefined;

  constructor(private readonly log: MessageLog) {}

  join(consumer: C): void {
    this.ring.add(consumer);
  }

  leave(consumer: C): void {
    this.ring.remove(consumer);
  }

  /** The handshake's placeholder becomes the live consumer, keeping its place on the ring. */
  replace(from: C, to: C): void {
    this.ring.replace(from, to);
  }

  leaveAll(): void {
    this.ring.clear();
  }

  /**
   * Claims for `consumer` the first of `candidates` (in order) whose key it owns and is not
   * draining from another consumer. Reading an entry's key is asynchronous, so availability is
   * checked again after it. @returns the ordinal claimed, if any
   */
  async pick(
    consumer: C,
    candidates: Iterable<number>,
    checks: KeySharedChecks<C>,
  ): Promise<number | undefined> {
    for (const ordinal of candidates) {
      if (!checks.isAvailable(ordinal)) continue;
      let slot: number;
      try {
        slot = await this.slotOf(ordinal);
      } catch (error) {
        if (!(error instanceof EntryDeletedError)) throw error;
        if (error instanceof CorruptEntryError) checks.markUnreadable(ordinal);
        continue;
      }
      // Another consumer may have taken it meanwhile, or this one gone away.
      if (!checks.isAvailable(ordinal) || !checks.isAttached(consumer)) continue;
      if (this.ring.select(slot) === consumer && !this.pendingSlots.drainingFor(slot, consumer)) {
        return checks.claim(ordinal, consumer);
      }
    }
    return undefined;
  }

  /** The entry read to learn `ordinal`'s slot, once, if it was that one (one read, not two). */
  takeRead(ordinal: number): LogEntry | undefined {
    const read = this.readForSlot;
    this.readForSlot = undefined;
    return read?.ordinal === ordinal ? read : undefined;
  }

  /** `ordinal` was dispatched to `consumer`: its slot drains until it is released. */
  claimed(ordinal: number, consumer: C): void {
    const slot = this.slots.get(ordinal);
    if (slot !== undefined) this.pendingSlots.track(ordinal, slot, consumer);
  }

  /** `ordinal` is no longer held by a consumer (acknowledged, redelivered, held back). */
  released(ordinal: number): void {
    this.pendingSlots.untrack(ordinal);
  }

  /**
   * `ordinal` is acknowledged: its slot is forgotten.
   * @returns true when it was held, so a consumer waiting for its key may go on.
   */
  acknowledged(ordinal: number): boolean {
    const wasHeld = this.pendingSlots.drainingAny(ordinal);
    this.released(ordinal);
    this.slots.delete(ordinal);
    return wasHeld;
  }

  /** Dispatch starts over: nothing is held any more. */
  rewound(): void {
    this.pendingSlots.clear();
  }

  private async slotOf(ordinal: number): Promise<number> {
    let slot = this.slots.get(ordinal);
    if (slot === undefined) {
      const entry = await this.log.read(ordinal);
      this.readForSlot = entry;
      slot = messageSlot(entry.message.key, ordinal);
      this.slots.set(ordinal, slot);
    }
    return slot;
  }
}

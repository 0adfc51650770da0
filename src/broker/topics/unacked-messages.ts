/**
 * What a Shared or Key_Shared subscription dispatched and has not had acknowledged yet: who holds each
 * entry, how many each consumer holds, and the limits Pulsar puts on both. Dispatch to a consumer
 * stops once it holds {@link MAX_UNACKED_PER_CONSUMER} entries, and to the whole subscription once it
 * holds {@link MAX_UNACKED_PER_SUBSCRIPTION}, until half of them are acknowledged (Pulsar's
 * `maxUnackedMessagesPerConsumer` and `maxUnackedMessagesPerSubscription`, with their defaults).
 *
 * Bound: one map entry per held entry, so at most MAX_UNACKED_PER_SUBSCRIPTION plus what is in
 * flight when the limit is reached (docs/broker.md, "Memory"). Exclusive and Failover subscriptions
 * do not use it: what they dispatched is the span from the first unacknowledged entry on.
 */

/** Pulsar's `maxUnackedMessagesPerConsumer` default (Shared, Key_Shared). */
export const MAX_UNACKED_PER_CONSUMER = 50_000;
/** Pulsar's `maxUnackedMessagesPerSubscription` default (Shared, Key_Shared). */
export const MAX_UNACKED_PER_SUBSCRIPTION = 200_000;

export class UnackedMessages<C> {
  /** Entry ordinal → the consumer it was dispatched to. */
  private readonly owners = new Map<number, C>();
  /** How many entries each consumer holds. */
  private readonly counts = new Map<C, number>();
  /** Consumers at their limit; `subscriptionBlocked` for the subscription's. */
  private readonly blocked = new Set<C>();
  private subscriptionBlocked = false;

  get size(): number {
    return this.owners.size;
  }

  has(ordinal: number): boolean {
    return this.owners.has(ordinal);
  }

  ownerOf(ordinal: number): C | undefined {
    return this.owners.get(ordinal);
  }

  /** The entries `consumer` holds, in dispatch order (a copy: releasing them changes the map). */
  heldBy(consumer: C): number[] {
    const held: number[] = [];
    for (const [ordinal, owner] of this.owners) if (owner === consumer) held.push(ordinal);
    return held;
  }

  /** How many entries each consumer holds (consumers holding none are absent). */
  countsByConsumer(): Map<C, number> {
    return new Map(this.counts);
  }

  /** True while dispatch to `consumer` must wait: it, or the subscription, is at its limit. */
  isBlocked(consumer: C): boolean {
    return this.subscriptionBlocked || (this.blocked.size > 0 && this.blocked.has(consumer));
  }

  /** `ordinal` was dispatched to `consumer`. */
  claim(ordinal: number, consumer: C): void {
    this.owners.set(ordinal, consumer);
    const held = (this.counts.get(consumer) ?? 0) + 1;
    this.counts.set(consumer, held);
    if (held >= MAX_UNACKED_PER_CONSUMER) this.blocked.add(consumer);
    if (this.owners.size >= MAX_UNACKED_PER_SUBSCRIPTION) this.subscriptionBlocked = true;
  }

  /**
   * `ordinal` is held no more (acknowledged, to be redelivered, held back). Answers whether that let
   * dispatch go on where it was blocked: Pulsar unblocks a consumer, and a subscription, once half of
   * its limit is acknowledged.
   */
  release(ordinal: number): { released: boolean; unblocked: boolean } {
    const owner = this.owners.get(ordinal);
    if (owner === undefined) return { released: false, unblocked: false };
    this.owners.delete(ordinal);
    const held = (this.counts.get(owner) ?? 1) - 1;
    if (held > 0) this.counts.set(owner, held);
    else this.counts.delete(owner);
    let unblocked = held <= MAX_UNACKED_PER_CONSUMER / 2 && this.blocked.delete(owner);
    if (this.subscriptionBlocked && this.owners.size <= MAX_UNACKED_PER_SUBSCRIPTION / 2) {
      this.subscriptionBlocked = false;
      unblocked = true;
    }
    return { released: true, unblocked };
  }

  /** `consumer` went away; what it held must have been released first (see heldBy). */
  forget(consumer: C): void {
    this.counts.delete(consumer);
    this.blocked.delete(consumer);
  }

  /** `to` takes over everything `from` holds (a consumer handed over after its handshake). */
  replace(from: C, to: C): void {
    for (const [ordinal, owner] of this.owners) if (owner === from) this.owners.set(ordinal, to);
    const held = this.counts.get(from);
    this.counts.delete(from);
    if (held !== undefined) this.counts.set(to, held);
    if (this.blocked.delete(from)) this.blocked.add(to);
  }

  /** Forgets everything (the subscription rewinds: all of it is dispatched again). */
  clear(): void {
    this.owners.clear();
    this.counts.clear();
    this.blocked.clear();
    this.subscriptionBlocked = false;
  }
}

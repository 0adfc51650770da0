/**
 * What a Shared or Key_Shared subscription has dispatched and not had acknowledged
 * (src/broker/topics/unacked-messages.ts): who holds what, and Pulsar's limits, which block dispatch
 * to a consumer at 50 000 held entries and to the subscription at 200 000, until half are acknowledged.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_UNACKED_PER_CONSUMER,
  MAX_UNACKED_PER_SUBSCRIPTION,
  UnackedMessages,
} from '../../src/broker/topics/unacked-messages.js';

/** Claims `count` ordinals from `first` on for `consumer`. */
function claimRun(pending: UnackedMessages<string>, consumer: string, first: number, count: number): void {
  for (let ordinal = first; ordinal < first + count; ordinal++) pending.claim(ordinal, consumer);
}

describe('unacknowledged messages of a Shared subscription', () => {
  it('knows who holds each entry, and what a consumer held when it goes away', () => {
    const pending = new UnackedMessages<string>();
    pending.claim(1, 'a');
    pending.claim(2, 'b');
    pending.claim(3, 'a');
    expect(pending.ownerOf(3)).toBe('a');
    expect(pending.heldBy('a')).toEqual([1, 3]);
    expect(pending.countsByConsumer()).toEqual(
      new Map([
        ['a', 2],
        ['b', 1],
      ]),
    );
    expect(pending.release(1)).toEqual({ released: true, unblocked: false });
    expect(pending.release(1)).toEqual({ released: false, unblocked: false });
    expect(pending.has(1)).toBe(false);
    pending.replace('a', 'a2');
    expect(pending.ownerOf(3)).toBe('a2');
    expect(pending.countsByConsumer().get('a2')).toBe(1);
    pending.release(3);
    pending.forget('a2');
    expect(pending.countsByConsumer()).toEqual(new Map([['b', 1]]));
    pending.clear();
    expect(pending.size).toBe(0);
  });

  it('a consumer at its limit is blocked, others are not; it is unblocked once half of it is acknowledged', () => {
    const pending = new UnackedMessages<string>();
    claimRun(pending, 'a', 0, MAX_UNACKED_PER_CONSUMER - 1);
    expect(pending.isBlocked('a')).toBe(false);
    pending.claim(MAX_UNACKED_PER_CONSUMER - 1, 'a');
    expect(pending.isBlocked('a')).toBe(true);
    expect(pending.isBlocked('b')).toBe(false);
    const half = MAX_UNACKED_PER_CONSUMER / 2;
    for (let ordinal = 0; ordinal < half - 1; ordinal++)
      expect(pending.release(ordinal).unblocked).toBe(false);
    expect(pending.isBlocked('a')).toBe(true);
    expect(pending.release(half - 1)).toEqual({ released: true, unblocked: true });
    expect(pending.isBlocked('a')).toBe(false);
  });

  it("the subscription's limit blocks every consumer, until half of it is acknowledged", () => {
    const pending = new UnackedMessages<string>();
    // Spread over enough consumers that none reaches its own limit.
    const consumers = MAX_UNACKED_PER_SUBSCRIPTION / (MAX_UNACKED_PER_CONSUMER / 2);
    for (let index = 0; index < consumers; index++) {
      claimRun(pending, `c${index}`, index * (MAX_UNACKED_PER_CONSUMER / 2), MAX_UNACKED_PER_CONSUMER / 2);
    }
    expect(pending.size).toBe(MAX_UNACKED_PER_SUBSCRIPTION);
    expect(pending.isBlocked('c0')).toBe(true);
    expect(pending.isBlocked('someone new')).toBe(true);
    let unblockedAt = -1;
    for (let ordinal = 0; unblockedAt < 0; ordinal++) {
      if (pending.release(ordinal).unblocked) unblockedAt = pending.size;
    }
    expect(unblockedAt).toBe(MAX_UNACKED_PER_SUBSCRIPTION / 2);
    expect(pending.isBlocked('someone new')).toBe(false);
  });
});

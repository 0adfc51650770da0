/** DelayedDeliveries: one timer for any number held, due order, and delays beyond Node's timer range. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DelayedDeliveries, MAX_TIMER_MS } from '../../src/broker/topics/delayed-deliveries.js';

describe('DelayedDeliveries', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('releases held entries in due order, with one timer armed', () => {
    const released: number[] = [];
    const delayed = new DelayedDeliveries((ordinals) => released.push(...ordinals));
    const now = Date.now();
    for (let ordinal = 0; ordinal < 1000; ordinal++)
      delayed.hold(ordinal, now + 1000 + ((ordinal * 7919) % 1000));
    expect(vi.getTimerCount()).toBe(1);
    expect(delayed.has(3)).toBe(true);
    vi.advanceTimersByTime(1500);
    expect(released.length).toBeGreaterThan(0);
    vi.advanceTimersByTime(1000);
    expect(released).toHaveLength(1000);
    const dueOf = (ordinal: number): number => (ordinal * 7919) % 1000;
    for (let index = 1; index < released.length; index++) {
      expect(dueOf(released[index] ?? 0)).toBeGreaterThanOrEqual(dueOf(released[index - 1] ?? 0));
    }
    expect(delayed.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reaches a deliverAt 60 days ahead through chained timers, not a 1 ms spin', () => {
    const released: number[] = [];
    const delayed = new DelayedDeliveries((ordinals) => released.push(...ordinals));
    const day = 24 * 3600 * 1000;
    delayed.hold(1, Date.now() + 60 * day);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(released).toEqual([]);
    // Still one timer, armed for the rest of the way (a clamped timer would fire every 1 ms).
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(10);
    expect(released).toEqual([]);
    vi.advanceTimersByTime(60 * day);
    expect(released).toEqual([1]);
  });

  it('moves the timer earlier for an entry due sooner, and clear() drops everything', () => {
    const released: number[] = [];
    const delayed = new DelayedDeliveries((ordinals) => released.push(...ordinals));
    delayed.hold(1, Date.now() + 10_000);
    delayed.hold(2, Date.now() + 100);
    vi.advanceTimersByTime(200);
    expect(released).toEqual([2]);
    delayed.clear();
    vi.advanceTimersByTime(20_000);
    expect(released).toEqual([2]);
  });
});

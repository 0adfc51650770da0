/** Ordinals to message ids and back across a log's segments (src/broker/storage/segment-index.ts). */
import { describe, expect, it } from 'vitest';
import type { Segment } from '../../src/broker/storage/segment.js';
import { SegmentIndex } from '../../src/broker/storage/segment-index.js';

/** The part of a segment the index reads; entries can be added as a write would commit them. */
function fakeSegment(ledgerId: number, entryCount: number, byteSize = entryCount * 100) {
  return { ledgerId, entryCount, byteSize } as unknown as Segment & { entryCount: number };
}

describe('SegmentIndex', () => {
  it('maps ordinals across segments to ledger ids and entry ids, and back', () => {
    const index = new SegmentIndex();
    index.add(fakeSegment(3, 2));
    index.add(fakeSegment(7, 3));
    expect(index.length).toBe(5);
    expect([0, 1, 2, 4].map((ordinal) => index.locate(ordinal))).toMatchObject([
      { ledgerId: 3, entryId: 0 },
      { ledgerId: 3, entryId: 1 },
      { ledgerId: 7, entryId: 0 },
      { ledgerId: 7, entryId: 2 },
    ]);
    expect(index.ordinalOf({ ledgerId: 7, entryId: 1 })).toBe(3);
    expect(index.ordinalOf({ ledgerId: 7, entryId: 3 })).toBeUndefined();
    expect(index.ordinalOf({ ledgerId: 5, entryId: 0 })).toBeUndefined();
    expect(() => index.locate(5)).toThrow(RangeError);
    expect(() => index.locate(-1)).toThrow(RangeError);
  });

  it('the first ordinal after an id: within its ledger, at the next ledger, or the end', () => {
    const index = new SegmentIndex();
    index.add(fakeSegment(3, 2));
    index.add(fakeSegment(7, 3));
    expect(index.firstOrdinalAfter({ ledgerId: 3, entryId: 0 })).toBe(1);
    expect(index.firstOrdinalAfter({ ledgerId: 3, entryId: 1 })).toBe(2);
    expect(index.firstOrdinalAfter({ ledgerId: 5, entryId: 9 })).toBe(2);
    expect(index.firstOrdinalAfter({ ledgerId: 3, entryId: -1 })).toBe(0);
    expect(index.firstOrdinalAfter({ ledgerId: 9, entryId: 0 })).toBe(5);
  });

  it('grows the last segment and drops the oldest ones as retention deletes them', () => {
    const index = new SegmentIndex();
    const first = fakeSegment(1, 2);
    const last = fakeSegment(2, 0);
    index.add(first);
    index.add(last);
    last.entryCount = 4;
    expect(index.grow(4)).toBe(2);
    expect(index.locate(5)).toMatchObject({ ledgerId: 2, entryId: 3 });
    expect(index.storedBytes).toBe(200);
    expect(index.oldest).toEqual({ segment: first, base: 0 });
    index.dropOldest();
    expect(index.firstOrdinal).toBe(2);
    expect(index.oldest).toEqual({ segment: last, base: 2 });
    index.dropOldest();
    expect(index.oldest).toBeUndefined();
    expect(index.firstOrdinal).toBe(6);
    expect(index.all).toEqual([first, last]);
  });
});

/**
 * Where a `stopAtEnd` reader stops (`reachesEnd`), and the ordering of Pulsar's `MessageId.latest`
 * (Long.MAX as Infinity) against real ids. Pure functions: no server involved.
 */
import { describe, expect, it } from 'vitest';
import { compareMessageIds, type MessageIdData } from '../../src/protocol/index.js';
import { reachesEnd } from '../../src/streams/reader-session-stream.js';

const id = (ledgerId: number, entryId: number, batchIndex = -1, batchSize = 0): MessageIdData => ({
  ledgerId,
  entryId,
  partition: -1,
  batchIndex,
  batchSize,
});

describe('reachesEnd', () => {
  it('non-batched: the end entry and anything after it', () => {
    expect(reachesEnd(id(5, 2), id(5, 3))).toBe(false);
    expect(reachesEnd(id(5, 3), id(5, 3))).toBe(true);
    expect(reachesEnd(id(6, 0), id(5, 3))).toBe(true);
  });

  it("an end naming the batch's last index (Pulsar's lastMessageId): that index", () => {
    const end = id(5, 3, 2);
    expect([0, 1, 2].map((index) => reachesEnd(id(5, 3, index, 3), end))).toEqual([false, false, true]);
  });

  it("an end naming the entry only: a batch's last message (batchSize - 1), from the delivered id", () => {
    const end = id(5, 3);
    expect([0, 1, 2].map((index) => reachesEnd(id(5, 3, index, 3), end))).toEqual([false, false, true]);
    // An id without its batch size cannot say more: the entry is the end.
    expect(reachesEnd(id(5, 3, 0, -1), end)).toBe(true);
  });
});

describe("MessageId.latest's Infinity", () => {
  it('orders after every real id and equals itself', () => {
    const latest = id(Infinity, Infinity);
    expect(compareMessageIds(latest, id(Number.MAX_SAFE_INTEGER, 0))).toBe(1);
    expect(compareMessageIds(id(1, 1), latest)).toBe(-1);
    expect(compareMessageIds(latest, latest)).toBe(0);
  });
});

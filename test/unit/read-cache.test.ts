/** The per-topic read cache: a run of the newest ordinals, bounded in bytes, oldest dropped first. */
import { describe, expect, it } from 'vitest';
import { ReadCache } from '../../src/broker/storage/read-cache.js';
import { cachedSize, type StoredMessage } from '../../src/broker/storage/record-codec.js';

function message(bytes: number): StoredMessage {
  return { payload: Buffer.alloc(bytes), properties: {}, publishTime: 1, producerName: 'p', sequenceId: 0 };
}

describe('read cache', () => {
  it('keeps the newest entries within its byte bound', () => {
    const each = cachedSize(message(100));
    const cache = new ReadCache(each * 3);
    for (let ordinal = 0; ordinal < 10; ordinal++) cache.add(ordinal, message(100));
    expect(cache.size).toBe(3);
    expect(cache.bytes).toBe(each * 3);
    expect([6, 7, 8, 9].map((ordinal) => cache.get(ordinal) !== undefined)).toEqual([
      false,
      true,
      true,
      true,
    ]);
  });

  it('drops a message larger than the bound at once, and caches nothing with a bound of 0', () => {
    const cache = new ReadCache(100);
    cache.add(0, message(1000));
    expect(cache.get(0)).toBeUndefined();
    expect(cache.bytes).toBe(0);
    const none = new ReadCache(0);
    none.add(0, message(1));
    expect(none.size).toBe(0);
  });

  it('forgets what retention deleted, and starts afresh after a gap', () => {
    const cache = new ReadCache(1 << 20);
    for (let ordinal = 0; ordinal < 5; ordinal++) cache.add(ordinal, message(10));
    cache.forgetBefore(3);
    expect(cache.get(2)).toBeUndefined();
    expect(cache.get(3)).toBeDefined();
    expect(cache.size).toBe(2);
    cache.forgetBefore(100);
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
    cache.add(5, message(10));
    cache.add(9, message(10)); // not the next ordinal: the run restarts there
    expect(cache.get(5)).toBeUndefined();
    expect(cache.get(9)).toBeDefined();
    expect(cache.bytes).toBe(cachedSize(message(10)));
  });
});

import { describe, expect, it } from 'vitest';
import { RecentIds } from '../../src/streams/recent-ids.js';

describe('RecentIds', () => {
  it('remembers the last `capacity` distinct ids and forgets the oldest', () => {
    const ids = new RecentIds(3);
    for (const id of ['a', 'b', 'c', 'b', 'd']) ids.add(id);
    expect(ids.has('a')).toBe(false);
    expect([...ids.values()].sort()).toEqual(['b', 'c', 'd']);
  });

  it('stays bounded and fast over many ids', () => {
    const ids = new RecentIds(1000);
    for (let i = 0; i < 200_000; i++) ids.add(`id${i}`);
    expect([...ids.values()]).toHaveLength(1000);
    expect(ids.has('id199999')).toBe(true);
    expect(ids.has('id198999')).toBe(false);
  });
});

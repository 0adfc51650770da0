/** MergedSources: one waiter per source, a bounded ready queue, nothing of the traffic retained. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MergedSources } from '../../src/broker/sessions/merge.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A source that hands out `items` in order, then null. */
function listSource<T>(items: readonly T[]): () => Promise<T | null> {
  let index = 0;
  return () => Promise.resolve(index < items.length ? (items[index++] as T) : null);
}

/** A source that never answers (an idle partition). */
const idle = (): Promise<never> => new Promise(() => undefined);

describe('MergedSources', () => {
  it('yields every item of every source, each source in its order, then null', async () => {
    const merged = new MergedSources([listSource([1, 2, 3]), listSource([10, 20])]);
    const seen: number[] = [];
    for (let item = await merged.next(); item !== null; item = await merged.next()) seen.push(item);
    expect(seen.filter((item) => item < 10)).toEqual([1, 2, 3]);
    expect(seen.filter((item) => item >= 10)).toEqual([10, 20]);
    expect(await merged.next()).toBeNull();
  });

  it('asks each source once at a time', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let left = 50;
    const source = async (): Promise<number | null> => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return left-- > 0 ? left : null;
    };
    const merged = new MergedSources([source, listSource([1])]);
    while ((await merged.next()) !== null);
    expect(maxInFlight).toBe(1);
  });

  it('throws a failure of a source', async () => {
    const merged = new MergedSources([() => Promise.reject(new Error('read failed')), idle]);
    await expect(merged.next()).rejects.toThrow('read failed');
  });

  it('waits for added sources while growable, and ends when told', async () => {
    const merged = new MergedSources<number>([], true);
    const first = merged.next();
    merged.add(listSource([7]));
    expect(await first).toBe(7);
    const last = merged.next();
    merged.end();
    expect(await last).toBeNull();
  });

  it('keeps no delivered item alive while other sources stay idle', async () => {
    const count = 2000;
    const refs: WeakRef<object>[] = [];
    let produced = 0;
    const hot = (): Promise<{ payload: Buffer } | null> => {
      if (produced++ >= count) return new Promise(() => undefined);
      const item = { payload: Buffer.alloc(1024) };
      refs.push(new WeakRef(item));
      return Promise.resolve(item);
    };
    const merged = new MergedSources<{ payload: Buffer }>([hot, idle, idle, idle]);
    for (let index = 0; index < count; index++) await merged.next();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const alive = refs.filter((ref) => ref.deref() !== undefined).length;
    // Racing the idle sources' promises again at every step kept all 2000 alive.
    expect(alive).toBeLessThan(10);
  });
});

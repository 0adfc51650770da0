/**
 * The topic log's group commit (src/broker/storage/commit-queue.ts) on its own: what arrives while a
 * batch is written goes into the next one, within the writer's room and the batch bounds; a failed
 * batch takes what was queued behind it down with it, and the next append starts afresh.
 */
import { describe, expect, it } from 'vitest';
import { CommitQueue, MAX_BATCH_BYTES, MAX_BATCH_RECORDS } from '../../src/broker/storage/commit-queue.js';

interface Append {
  readonly record: Buffer;
  readonly name: string;
}

const append = (name: string, bytes = 10): Append => ({ record: Buffer.alloc(bytes), name });

/** A writer that records its batches and completes each write when the test says so. */
function recordingWriter(room = Number.MAX_SAFE_INTEGER) {
  const batches: string[][] = [];
  const failures: { error: string; batch: string[]; behind: string[] }[] = [];
  const pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const writer = {
    room: () => room,
    write: (batch: readonly Append[]) =>
      new Promise<void>((resolve, reject) => {
        batches.push(batch.map((item) => item.name));
        pending.push({ resolve, reject });
      }),
    fail: (error: Error, batch: readonly Append[], behind: readonly Append[]) => {
      failures.push({
        error: error.message,
        batch: batch.map((item) => item.name),
        behind: behind.map((item) => item.name),
      });
    },
  };
  /** Completes the oldest write still in progress (or fails it with `error`). */
  const finish = async (error?: Error): Promise<void> => {
    const next = pending.shift();
    if (next === undefined) throw new Error('no write in progress');
    if (error === undefined) next.resolve();
    else next.reject(error);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { writer, batches, failures, finish };
}

describe('commit queue', () => {
  it('appends that arrive during a write share the next one; drained waits for both', async () => {
    const { writer, batches, finish } = recordingWriter();
    const queue = new CommitQueue(writer);
    queue.add(append('a'));
    queue.add(append('b'));
    queue.add(append('c'));
    expect(batches).toEqual([['a']]);
    expect(queue.busy).toBe(true);
    let drained = false;
    void queue.drained().then(() => (drained = true));
    await finish();
    expect(batches).toEqual([['a'], ['b', 'c']]);
    await finish();
    await queue.drained();
    expect(drained).toBe(true);
    expect(queue.busy).toBe(false);
  });

  it("a batch holds no more than the writer's room, nor more than the record and byte bounds", async () => {
    const small = recordingWriter(2);
    const bounded = new CommitQueue(small.writer);
    for (const name of ['a', 'b', 'c', 'd']) bounded.add(append(name));
    await small.finish();
    expect(small.batches).toEqual([['a'], ['b', 'c']]);
    await small.finish();
    expect(small.batches.at(-1)).toEqual(['d']);
    await small.finish();

    const large = recordingWriter();
    const byBytes = new CommitQueue(large.writer);
    byBytes.add(append('first'));
    // Each half the byte bound: the batch after `first` stops once it holds two.
    for (const name of ['x', 'y', 'z']) byBytes.add(append(name, MAX_BATCH_BYTES / 2));
    await large.finish();
    expect(large.batches.at(-1)).toEqual(['x', 'y']);
    await large.finish();
    expect(large.batches.at(-1)).toEqual(['z']);
    await large.finish();

    const many = recordingWriter();
    const byCount = new CommitQueue(many.writer);
    byCount.add(append('first', 1));
    for (let index = 0; index <= MAX_BATCH_RECORDS; index++) byCount.add(append(`r${index}`, 1));
    await many.finish();
    expect(many.batches.at(-1)).toHaveLength(MAX_BATCH_RECORDS);
    await many.finish();
    expect(many.batches.at(-1)).toEqual([`r${MAX_BATCH_RECORDS}`]);
    await many.finish();
  });

  it('a failed batch fails what is queued behind it; the next append is a batch of its own', async () => {
    const { writer, batches, failures, finish } = recordingWriter();
    const queue = new CommitQueue(writer);
    queue.add(append('a'));
    queue.add(append('b'));
    queue.add(append('c'));
    await finish(new Error('ENOSPC'));
    expect(failures).toEqual([{ error: 'ENOSPC', batch: ['a'], behind: ['b', 'c'] }]);
    expect(batches).toEqual([['a']]);
    await queue.drained();
    queue.add(append('d'));
    expect(batches).toEqual([['a'], ['d']]);
    await finish();
    await queue.drained();
  });
});

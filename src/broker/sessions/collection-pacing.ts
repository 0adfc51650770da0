/**
 * Paces garbage collection by the bytes producers send. What the broker receives lives in Buffers,
 * memory outside V8's heap ("external"), and V8 looks at external memory only once about 64 MiB more
 * of it exists than after its last collection, however small the heap: a broker taking messages as
 * fast as they come would hold that much garbage at times (and, through messages its read cache let
 * go, more in the old generation), besides what its bounds admit. When the process was started with
 * `--expose-gc` (`pulsar-ws broker` is), a full collection is asked for after every
 * {@link COLLECT_EVERY_BYTES} received instead. Without it (the broker embedded in another program)
 * nothing changes.
 *
 * Measured (test/broker/under-load.test.ts, 300 MB through the broker): a flood of 512 KB messages
 * +47 MB RSS instead of +76, 1 KB messages through a partitioned topic +57 MB instead of +153, at no
 * visible cost in throughput (a full collection of a heap of a few tens of MB per 8 MiB received).
 */

/** Publish bytes received between two collections. */
export const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

/** `globalThis.gc` as `--expose-gc` defines it. */
type Collect = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

const collect = (globalThis as { gc?: Collect }).gc;
let receivedSinceCollection = 0;

/** Counts `bytes` received; collects garbage once enough was received since the last time. */
export function paceCollection(bytes: number): void {
  if (collect === undefined) return;
  receivedSinceCollection += bytes;
  if (receivedSinceCollection < COLLECT_EVERY_BYTES) return;
  receivedSinceCollection = 0;
  collect({ type: 'major' });
}

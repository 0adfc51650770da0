/**
 * Transforms that keep each message's ack attached to what they emit, as `stream-chain` steps or as
 * Node `Transform`s. Written for ack-after-write: a source message is acknowledged only once every
 * output made from it was written by the sink; a message that yields nothing is done at once.
 *
 * ```ts
 * pipeline(consumer, chain([ackable(parse), ackable(explode)]), ackingSink(file));
 * ```
 */
import type { Duplex } from 'node:stream';
import asStream from 'stream-chain/asStream.js';
import {
  flushable,
  getManyValues,
  isMany,
  many,
  none,
  type Flushable,
  type Many,
} from 'stream-chain/defs.js';
import { InvalidArgumentError } from '../errors.js';
import { splitAck, toTracked, Tracked } from './tracked.js';

/** What an ackable function may return: a value, several (`many([...])`), or nothing (`none`/null/undefined). */
export type AckableResult<R> = R | Many<R> | typeof none | null | undefined;

type AckableFunction<T, R> = (value: T) => AckableResult<R> | Promise<AckableResult<R>>;

/**
 * Wraps `fn` (value in, value(s) out) as a `stream-chain` step over tracked values. The input may be a
 * consumer message, a `Tracked` value, or a plain value (then there is nothing to acknowledge).
 * 1→n: return `many([...])`; the source is acknowledged after all n outputs are written.
 */
export function ackable<T, R>(
  fn: AckableFunction<T, R>,
): (input: Tracked<T> | T) => Promise<Tracked<R> | Many<Tracked<R>> | typeof none> {
  return async (input) => {
    const source = toTracked(input);
    const result = await fn(source.value);
    if (result === none || result === null || result === undefined) {
      source.written();
      return none;
    }
    if (isMany(result)) {
      const values = getManyValues<R>(result);
      if (values.length === 0) {
        source.written();
        return none;
      }
      const part = splitAck(source, values.length);
      return many(values.map((value) => new Tracked(value, part)));
    }
    return new Tracked(result, () => source.written());
  };
}

/**
 * n→1 as a `stream-chain` step: groups `size` tracked values into one `Tracked<T[]>`, acknowledged
 * (every source) when the group is written. The last, partial group is emitted at the end.
 */
export function ackableBatch<T>(size: number): Flushable<Tracked<T> | T, Tracked<T[]> | typeof none> {
  if (!Number.isInteger(size) || size < 1) {
    throw new InvalidArgumentError(`expected \`size\` to be an integer >= 1, got ${size}`);
  }
  let group: Tracked<T>[] = [];
  const emit = (): Tracked<T[]> => {
    const members = group;
    group = [];
    return new Tracked(
      members.map((member) => member.value),
      () => {
        for (const member of members) member.written();
      },
    );
  };
  return flushable(
    (input: Tracked<T> | T) => {
      group.push(toTracked(input));
      return group.length >= size ? emit() : none;
    },
    () => (group.length > 0 ? emit() : none),
    () => {
      // The pipeline failed: the group was never written, so nothing of it is acknowledged.
      group = [];
    },
  );
}

/** `ackable(fn)` as a Node `Transform`-like duplex, for `pipeline()` without `stream-chain`. */
export function ackableTransform<T, R>(fn: AckableFunction<T, R>): Duplex {
  return asStream(ackable(fn));
}

/**
 * Key_Shared ownership: which consumer a message's key belongs to. Keys hash into Pulsar's 65536-slot
 * range with Murmur3 (as Pulsar's sticky-key hash does) and the range is split evenly over the
 * consumers in connection order. Messages without a key are spread by position.
 */
import { murmur3 } from '../../protocol/partition-hash.js';

export { murmur3 };

export const KEY_HASH_RANGE = 65536;

export function keyOwner<T>(
  key: string | undefined,
  ordinal: number,
  consumers: readonly T[],
): T | undefined {
  if (consumers.length === 0) return undefined;
  const slot = key === undefined ? ordinal % KEY_HASH_RANGE : murmur3(key) % KEY_HASH_RANGE;
  return consumers[Math.floor((slot * consumers.length) / KEY_HASH_RANGE)];
}

/**
 * Key_Shared ownership: which consumer a message's key belongs to. Keys hash into Pulsar's 65536-slot
 * range with Murmur3 (as Pulsar's sticky-key hash does) and the range is split evenly over the
 * consumers in connection order. Messages without a key are spread by position.
 */
export const KEY_HASH_RANGE = 65536;

/** Murmur3 x86 32-bit of the UTF-8 bytes, seed 0. */
export function murmur3(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  let h = 0;
  const blocks = bytes.length >> 2;
  for (let i = 0; i < blocks; i++) {
    let k = bytes.readUInt32LE(i * 4);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = 0;
    for (let i = rest - 1; i >= 0; i--) k = (k << 8) | (bytes[tail + i] ?? 0);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function keyOwner<T>(
  key: string | undefined,
  ordinal: number,
  consumers: readonly T[],
): T | undefined {
  if (consumers.length === 0) return undefined;
  const slot = key === undefined ? ordinal % KEY_HASH_RANGE : murmur3(key) % KEY_HASH_RANGE;
  return consumers[Math.floor((slot * consumers.length) / KEY_HASH_RANGE)];
}

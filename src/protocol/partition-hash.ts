/**
 * Which partition a keyed message belongs to, as Pulsar's Java producer decides (`hashingScheme`):
 * `JavaStringHash` is Java's `String.hashCode()` over UTF-16 code units, `Murmur3_32Hash` is Murmur3
 * x86 32-bit of the UTF-8 bytes (seed 0); both clear the sign bit, then take the sign-safe remainder
 * by the partition count. Shared by the embedded broker's router and the client's effectively-once
 * producer, so that both send a key where Pulsar would.
 */
import type { HashingScheme } from './params.js';

/** Java's `String.hashCode()` over UTF-16 code units (a signed 32-bit integer). */
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** Murmur3 x86 32-bit of the UTF-8 bytes, seed 0 (an unsigned 32-bit integer). */
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

function signSafeMod(dividend: number, divisor: number): number {
  const mod = dividend % divisor;
  return mod < 0 ? mod + divisor : mod;
}

/** The partition (0 to `partitions` − 1) Pulsar routes a message with this key to. */
export function keyPartition(key: string, partitions: number, scheme: HashingScheme): number {
  const hash = (scheme === 'Murmur3_32Hash' ? murmur3(key) : javaStringHash(key)) & 0x7fffffff;
  return signSafeMod(hash, partitions);
}

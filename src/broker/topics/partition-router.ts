/**
 * Which partition a producer's message goes to, as Pulsar's Java producer decides for the WebSocket
 * producer: by key hash when the message has a key (`hashingScheme`), else one partition picked at
 * random for the producer's lifetime (`SinglePartition`, the WebSocket default) or round robin.
 */
import type { HashingScheme, MessageRoutingMode } from '../../protocol/index.js';
import { murmur3 } from './key-hash.js';

/** Java's `String.hashCode()` over UTF-16 code units. */
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

function signSafeMod(dividend: number, divisor: number): number {
  const mod = dividend % divisor;
  return mod < 0 ? mod + divisor : mod;
}

export class PartitionRouter {
  private roundRobin: number;
  private readonly single: number;

  constructor(
    private readonly partitions: number,
    private readonly mode: Exclude<MessageRoutingMode, 'CustomPartition'>,
    private readonly hashing: HashingScheme,
  ) {
    this.single = Math.floor(Math.random() * partitions);
    this.roundRobin = this.single;
  }

  partitionOf(key: string | undefined): number {
    if (key !== undefined) {
      // Both of Pulsar's schemes clear the sign bit before taking the partition.
      const hash = (this.hashing === 'Murmur3_32Hash' ? murmur3(key) : javaStringHash(key)) & 0x7fffffff;
      return signSafeMod(hash, this.partitions);
    }
    if (this.mode === 'SinglePartition') return this.single;
    this.roundRobin = (this.roundRobin + 1) % this.partitions;
    return this.roundRobin;
  }
}

/**
 * Which partition a producer's message goes to, as Pulsar's Java producer decides for the WebSocket
 * producer: by key hash when the message has a key (`hashingScheme`), else one partition picked at
 * random for the producer's lifetime (`SinglePartition`, the WebSocket default) or round robin.
 */
import {
  javaStringHash,
  keyPartition,
  type HashingScheme,
  type MessageRoutingMode,
} from '../../protocol/index.js';

export { javaStringHash };

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
    if (key !== undefined) return keyPartition(key, this.partitions, this.hashing);
    if (this.mode === 'SinglePartition') return this.single;
    this.roundRobin = (this.roundRobin + 1) % this.partitions;
    return this.roundRobin;
  }
}

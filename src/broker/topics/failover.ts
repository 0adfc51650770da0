/**
 * Which consumer of a Failover subscription is active, chosen as Pulsar 4.0's single-active-consumer
 * dispatcher chooses it: consumers sorted by priority level, then name; only those of the highest
 * priority (lowest level) take part; a partition of a partitioned topic goes to
 * `consumers[partitionIndex % n]`, a non-partitioned topic to the consumer found on a hash ring: 100
 * points per consumer at Murmur3(name + i), looked up at Murmur3(topic name), the first point at or
 * after it (or the ring's first).
 */
import { murmur3 } from './key-hash.js';

const POINTS_PER_CONSUMER = 100;

export interface FailoverCandidate {
  readonly name: string;
  readonly priorityLevel: number;
}

/** Pulsar's Murmur3_32Hash: the UTF-8 bytes' Murmur3, masked to a non-negative Java int. */
function pulsarHash(text: string): number {
  return murmur3(text) & 0x7fffffff;
}

/** Java's `String.compareTo` (UTF-16 code units), which JavaScript's `<` on strings also is. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function failoverActive<T extends FailoverCandidate>(
  consumers: readonly T[],
  topicName: string,
  partitionIndex: number,
): T | undefined {
  // Array.prototype.sort is stable, as Java's List.sort: equal consumers keep their joining order.
  const sorted = [...consumers].sort(
    (a, b) => a.priorityLevel - b.priorityLevel || compareNames(a.name, b.name),
  );
  const [first] = sorted;
  if (first === undefined) return undefined;
  const eligible = sorted.filter((consumer) => consumer.priorityLevel === first.priorityLevel);
  if (partitionIndex >= 0) return eligible[partitionIndex % eligible.length];
  const ring: { hash: number; index: number }[] = [];
  eligible.forEach((consumer, index) => {
    for (let point = 0; point < POINTS_PER_CONSUMER; point++) {
      ring.push({ hash: pulsarHash(`${consumer.name}${point}`), index });
    }
  });
  // A later consumer's point replaces an earlier one's on the same hash, as a TreeMap put does.
  ring.sort((a, b) => a.hash - b.hash || b.index - a.index);
  const target = pulsarHash(topicName);
  const owner = ring.find((point) => point.hash >= target) ?? ring[0];
  return owner === undefined ? undefined : eligible[owner.index];
}

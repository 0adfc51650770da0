/**
 * Where each entry of a topic's log lives: its ledger segments in order, the ordinal of each one's
 * first entry, and how many of the oldest retention has deleted. Ordinals run 0..length-1 across all
 * segments and map one-to-one to message ids (ledgerId, entryId).
 *
 * Bounds: a few numbers per segment the topic ever had since it was opened (segments are large:
 * `maxSegmentBytes`, `maxEntriesPerSegment`).
 */
import type { MessageIdData } from '../../protocol/index.js';
import type { Segment } from './segment.js';

/** An entry's segment and its id. */
export interface EntryLocation {
  readonly segment: Segment;
  readonly ledgerId: number;
  readonly entryId: number;
}

export class SegmentIndex {
  private readonly segments: Segment[] = [];
  /** Ordinal of each segment's first entry, parallel to `segments`. */
  private readonly baseOrdinals: number[] = [];
  private readonly indexByLedger = new Map<number, number>();
  /** Index of the first segment whose file still exists (earlier ones were deleted by retention). */
  private firstLive = 0;
  private count = 0;

  /** Adds the next segment; its entries so far (recovered from disk) follow the last one's. */
  add(segment: Segment): void {
    this.indexByLedger.set(segment.ledgerId, this.segments.length);
    this.segments.push(segment);
    this.baseOrdinals.push(this.count);
    this.count += segment.entryCount;
  }

  /** `entries` more were committed to the last segment. @returns the ordinal of the first of them */
  grow(entries: number): number {
    const first = this.count;
    this.count += entries;
    return first;
  }

  /** Number of entries, deleted ones included (the ordinal the next append gets). */
  get length(): number {
    return this.count;
  }

  /** Ordinal of the first entry still stored. */
  get firstOrdinal(): number {
    return this.baseOrdinals[this.firstLive] ?? this.count;
  }

  /** The oldest segment still stored and the ordinal of its first entry. */
  get oldest(): { readonly segment: Segment; readonly base: number } | undefined {
    const segment = this.segments[this.firstLive];
    return segment === undefined ? undefined : { segment, base: this.baseOrdinals[this.firstLive] ?? 0 };
  }

  /** The oldest stored segment is being deleted: its entries are gone from now on. */
  dropOldest(): void {
    this.firstLive++;
  }

  /** Bytes of the segment files still on disk. */
  get storedBytes(): number {
    let bytes = 0;
    for (let index = this.firstLive; index < this.segments.length; index++) {
      bytes += this.segments[index]?.byteSize ?? 0;
    }
    return bytes;
  }

  /** Every segment, deleted ones included (closing them is a no-op). */
  get all(): readonly Segment[] {
    return this.segments;
  }

  /** @throws RangeError for an ordinal outside the log */
  locate(ordinal: number): EntryLocation {
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= this.count) {
      throw new RangeError(`ordinal ${ordinal} is outside the log (length ${this.count})`);
    }
    const index = this.indexOf(ordinal);
    const segment = this.segments[index];
    if (segment === undefined) throw new RangeError(`no segment for ordinal ${ordinal}`);
    return { segment, ledgerId: segment.ledgerId, entryId: ordinal - (this.baseOrdinals[index] ?? 0) };
  }

  /** The ordinal of an exact message id, or undefined when no such entry exists. */
  ordinalOf(id: Pick<MessageIdData, 'ledgerId' | 'entryId'>): number | undefined {
    const index = this.indexByLedger.get(id.ledgerId);
    if (index === undefined) return undefined;
    const segment = this.segments[index];
    if (segment === undefined || id.entryId < 0 || id.entryId >= segment.entryCount) return undefined;
    return (this.baseOrdinals[index] ?? 0) + id.entryId;
  }

  /** The first ordinal whose id orders after `id` (exclusive start of a reader). */
  firstOrdinalAfter(id: Pick<MessageIdData, 'ledgerId' | 'entryId'>): number {
    for (let index = 0; index < this.segments.length; index++) {
      const segment = this.segments[index];
      const base = this.baseOrdinals[index] ?? 0;
      if (segment === undefined || segment.ledgerId < id.ledgerId) continue;
      if (segment.ledgerId > id.ledgerId) return base;
      return base + Math.min(Math.max(id.entryId + 1, 0), segment.entryCount);
    }
    return this.count;
  }

  /** The segment holding `ordinal` (binary search over the first ordinals). */
  private indexOf(ordinal: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.baseOrdinals[mid] ?? 0) <= ordinal) low = mid;
      else high = mid - 1;
    }
    return low;
  }
}

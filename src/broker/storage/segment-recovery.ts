/**
 * The recovery scan of a ledger file: indexes its records and tells apart the two ways one can be
 * bad.
 *
 * - A **torn tail**: nothing intact follows the bad record. A crash during a write leaves this (the
 *   record was never acknowledged), and the caller cuts it off, as before.
 * - **Damage in the middle**: intact records follow. These are acknowledged messages, so they stay,
 *   with the entry ids they always had (message ids are `ledgerId:entryId`), and the damaged entries
 *   are reported. When the bad record's length is intact, the next record is where it says; when the
 *   length itself is damaged, the scan looks for the next intact record byte by byte, and that
 *   record's seeded checksum tells its entry id, however many records the damage swallowed.
 *
 * A ledger written before checksums were seeded cannot name its entry ids: past damage whose extent
 * is unknown, its records are left on disk unread (reported) rather than given guessed ids.
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import {
  bodyMatchesChecksum,
  entryIdOfSeeded,
  RECORD_HEADER_BYTES,
  type ChecksumKind,
} from './record-codec.js';

/** The smallest body a record can have: a meta length and `{}`. */
const MIN_BODY_BYTES = 4 + 2;
const MIN_RECORD_BYTES = RECORD_HEADER_BYTES + MIN_BODY_BYTES;
/** Bytes of a record that the byte-by-byte search looks at before reading its body. */
const PROBE_BYTES = RECORD_HEADER_BYTES + 5;
const SEARCH_WINDOW_BYTES = 4 * 1024 * 1024;
const OPEN_BRACE = 0x7b;

export interface ScannedLedger {
  /** File offset of each entry's record header; -1 for a damaged entry. */
  readonly offsets: number[];
  readonly lengths: number[];
  /** Where the indexed records end. */
  readonly validEnd: number;
  /** Entries whose records are damaged: they keep their ids and cannot be read. */
  readonly damagedEntries: number[];
  /**
   * Bytes after `validEnd` not indexed because their entry ids cannot be told (damage in a ledger
   * with unseeded checksums). They must not be cut: they may hold acknowledged messages.
   */
  readonly unreadableBytes: number;
}

interface RawRecord {
  readonly bodyLength: number;
  readonly checksum: number;
  /** Undefined when the length does not fit the file (or is below any real record's). */
  readonly body: Buffer | undefined;
}

interface Found {
  readonly position: number;
  /** Undefined for an unseeded record after damage of unknown extent. */
  readonly entryId: number | undefined;
  readonly kind: ChecksumKind;
}

/** Scans the first `end` bytes of a ledger file. */
export async function scanLedger(handle: FileHandle, end: number): Promise<ScannedLedger> {
  return new LedgerScan(handle, end).run();
}

class LedgerScan {
  private readonly offsets: number[] = [];
  private readonly lengths: number[] = [];
  private readonly damagedEntries: number[] = [];
  /** Learnt from the first intact record. */
  private kind: ChecksumKind | undefined;

  constructor(
    private readonly handle: FileHandle,
    private readonly end: number,
  ) {}

  async run(): Promise<ScannedLedger> {
    let position = 0;
    let unreadableBytes = 0;
    while (position < this.end) {
      const entryId = this.offsets.length;
      const record = await this.readRecord(position);
      const kind = this.kindOf(record, entryId);
      if (record?.body !== undefined && kind !== undefined) {
        this.kind = kind;
        this.offsets.push(position);
        this.lengths.push(record.bodyLength);
        position += RECORD_HEADER_BYTES + record.bodyLength;
        continue;
      }
      const next = await this.nextIntact(position, record, entryId);
      if (next === undefined) break; // a torn tail
      this.kind = next.kind;
      if (next.entryId === undefined) {
        unreadableBytes = this.end - position;
        break;
      }
      for (let damaged = entryId; damaged < next.entryId; damaged++) {
        this.offsets.push(-1);
        this.lengths.push(0);
        this.damagedEntries.push(damaged);
      }
      position = next.position;
    }
    return {
      offsets: this.offsets,
      lengths: this.lengths,
      validEnd: position,
      damagedEntries: this.damagedEntries,
      unreadableBytes,
    };
  }

  /** The kind of checksum that makes `record` intact as entry `entryId`, if one does. */
  private kindOf(record: RawRecord | undefined, entryId: number): ChecksumKind | undefined {
    const body = record?.body;
    if (record === undefined || body === undefined) return undefined;
    const kinds: ChecksumKind[] = this.kind === undefined ? ['seeded', 'unseeded'] : [this.kind];
    return kinds.find((kind) => bodyMatchesChecksum(body, record.checksum, entryId, kind));
  }

  /** The first intact record after the bad one at `from` (entry `entryId`), if any. */
  private async nextIntact(
    from: number,
    bad: RawRecord | undefined,
    entryId: number,
  ): Promise<Found | undefined> {
    // The bad record's length may be intact: then the next record starts where it says.
    if (bad !== undefined && bad.bodyLength >= MIN_BODY_BYTES) {
      const position = from + RECORD_HEADER_BYTES + bad.bodyLength;
      if (position < this.end) {
        const kind = this.kindOf(await this.readRecord(position), entryId + 1);
        if (kind !== undefined) return { position, entryId: entryId + 1, kind };
      }
    }
    return this.search(from, entryId);
  }

  /** Looks for an intact record at every byte after `from`. */
  private async search(from: number, entryId: number): Promise<Found | undefined> {
    for (let start = from + 1; start + MIN_RECORD_BYTES <= this.end; start += SEARCH_WINDOW_BYTES) {
      const window = await this.read(start, Math.min(SEARCH_WINDOW_BYTES + PROBE_BYTES, this.end - start));
      for (let index = 0; index < SEARCH_WINDOW_BYTES && index + PROBE_BYTES <= window.length; index++) {
        const position = start + index;
        const bodyLength = window.readUInt32LE(index);
        if (bodyLength < MIN_BODY_BYTES || position + RECORD_HEADER_BYTES + bodyLength > this.end) continue;
        const metaLength = window.readUInt32LE(index + RECORD_HEADER_BYTES);
        if (metaLength < 2 || 4 + metaLength > bodyLength) continue;
        if (window[index + RECORD_HEADER_BYTES + 4] !== OPEN_BRACE) continue;
        const found = await this.candidate(position, from, entryId);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  private async candidate(position: number, from: number, entryId: number): Promise<Found | undefined> {
    const record = await this.readRecord(position);
    if (record?.body === undefined) return undefined;
    if (this.kind !== 'unseeded') {
      // Every entry lost in between took at least a minimal record's bytes.
      const lost = Math.max(1, Math.floor((position - from) / MIN_RECORD_BYTES));
      const found = entryIdOfSeeded(record.body, record.checksum, entryId + 1, entryId + lost);
      if (found !== undefined) return { position, entryId: found, kind: 'seeded' };
    }
    if (this.kind !== 'seeded' && crc32(record.body) === record.checksum) {
      return { position, entryId: undefined, kind: 'unseeded' };
    }
    return undefined;
  }

  private async readRecord(position: number): Promise<RawRecord | undefined> {
    if (position + RECORD_HEADER_BYTES > this.end) return undefined;
    const header = await this.read(position, RECORD_HEADER_BYTES);
    const bodyLength = header.readUInt32LE(0);
    const checksum = header.readUInt32LE(4);
    const fits = bodyLength >= MIN_BODY_BYTES && position + RECORD_HEADER_BYTES + bodyLength <= this.end;
    return {
      bodyLength,
      checksum,
      body: fits ? await this.read(position + RECORD_HEADER_BYTES, bodyLength) : undefined,
    };
  }

  private async read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buffer, filled, length - filled, position + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  }
}

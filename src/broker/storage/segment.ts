/**
 * One ledger of a topic: an append-only file of records (see record-codec.ts) plus the in-memory
 * index of where each entry starts. Entry ids are the record's position in the file, from 0.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { bodyMatchesChecksum, RECORD_HEADER_BYTES } from './record-codec.js';

const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;

export interface SegmentRecovery {
  /** Bytes cut from the end because the last record was torn or corrupt (a crash mid-write). */
  readonly truncatedBytes: number;
}

export class Segment {
  /** File offset of each entry's record header. */
  private offsets: number[] = [];
  private lengths: number[] = [];
  /** Entries in the ledger; kept after the file is deleted so positions stay known. */
  private count = 0;
  private deletedFile = false;

  private constructor(
    readonly ledgerId: number,
    readonly path: string,
    private readonly handle: FileHandle,
    private size: number,
    /** Epoch ms of the last write (the file's mtime for a recovered ledger): retention's clock. */
    private lastWrite: number,
  ) {}

  static async create(path: string, ledgerId: number): Promise<Segment> {
    const handle = await open(path, 'wx+');
    return new Segment(ledgerId, path, handle, 0, Date.now());
  }

  /** Opens an existing ledger file, indexing its records and cutting off a torn tail. */
  static async open(
    path: string,
    ledgerId: number,
  ): Promise<{ segment: Segment; recovery: SegmentRecovery }> {
    const handle = await open(path, 'r+');
    let segment: Segment;
    let fileSize: number;
    try {
      const stat = await handle.stat();
      fileSize = stat.size;
      segment = new Segment(ledgerId, path, handle, 0, stat.mtimeMs);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const validEnd = await segment.scan(fileSize);
    if (validEnd < fileSize) {
      await handle.truncate(validEnd);
      await handle.sync();
    }
    segment.size = validEnd;
    return { segment, recovery: { truncatedBytes: fileSize - validEnd } };
  }

  /** Indexes complete, checksummed records; returns the offset where valid data ends. */
  private async scan(fileSize: number): Promise<number> {
    let position = 0;
    const header = Buffer.alloc(RECORD_HEADER_BYTES);
    let body = Buffer.alloc(SCAN_CHUNK_BYTES);
    while (position + RECORD_HEADER_BYTES <= fileSize) {
      await this.handle.read(header, 0, RECORD_HEADER_BYTES, position);
      const bodyLength = header.readUInt32LE(0);
      const crc = header.readUInt32LE(4);
      if (position + RECORD_HEADER_BYTES + bodyLength > fileSize) break;
      if (bodyLength > body.length) body = Buffer.alloc(bodyLength);
      const view = body.subarray(0, bodyLength);
      await this.handle.read(view, 0, bodyLength, position + RECORD_HEADER_BYTES);
      if (!bodyMatchesChecksum(view, crc)) break;
      this.offsets.push(position);
      this.lengths.push(bodyLength);
      this.count++;
      position += RECORD_HEADER_BYTES + bodyLength;
    }
    return position;
  }

  get entryCount(): number {
    return this.count;
  }

  get lastWriteAt(): number {
    return this.lastWrite;
  }

  /** True once retention deleted the file: the entries' positions are known, their data gone. */
  get deleted(): boolean {
    return this.deletedFile;
  }

  get byteSize(): number {
    return this.size;
  }

  /** Writes complete records at the end of the file; they become readable entries only via `commit`. */
  async write(records: Buffer, fsync: boolean): Promise<void> {
    let written = 0;
    while (written < records.length) {
      const { bytesWritten } = await this.handle.write(
        records,
        written,
        records.length - written,
        this.size + written,
      );
      written += bytesWritten;
    }
    if (fsync) await this.handle.datasync();
  }

  /** Indexes records just written by `write` (their body lengths, in order). */
  commit(bodyLengths: readonly number[]): void {
    for (const bodyLength of bodyLengths) {
      this.offsets.push(this.size);
      this.lengths.push(bodyLength);
      this.count++;
      this.size += RECORD_HEADER_BYTES + bodyLength;
    }
    this.lastWrite = Date.now();
  }

  /** Reads the body of entry `entryId`. */
  async readBody(entryId: number): Promise<Buffer> {
    const offset = this.offsets[entryId];
    const length = this.lengths[entryId];
    if (offset === undefined || length === undefined) {
      throw new RangeError(`entry ${entryId} is not in ledger ${this.ledgerId}`);
    }
    const body = Buffer.allocUnsafe(length);
    await this.handle.read(body, 0, length, offset + RECORD_HEADER_BYTES);
    return body;
  }

  async close(): Promise<void> {
    if (!this.deletedFile) await this.handle.close();
  }

  /** Closes and removes the file (retention); the ledger's entry count stays for position lookups. */
  async delete(): Promise<void> {
    if (this.deletedFile) return;
    this.deletedFile = true;
    this.offsets = [];
    this.lengths = [];
    await this.handle.close();
    await rm(this.path, { force: true });
  }
}

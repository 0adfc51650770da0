/**
 * Message ids as the WebSocket API carries them: standard base64 of a protobuf (proto2)
 * `MessageIdData` from Pulsar's `PulsarApi.proto` (docs/protocol.md §7). Only the fields Pulsar writes are
 * modelled; unknown fields are skipped when decoding, as protobuf requires.
 */
import { decodeBase64Strict } from './base64.js';

export interface MessageIdData {
  readonly ledgerId: number;
  readonly entryId: number;
  /** -1 when the message is not from a partitioned topic. */
  readonly partition: number;
  /** -1 when the message is not inside a batch. */
  readonly batchIndex: number;
  /** Modern servers write 0 for non-batched messages; -1 means "absent" (old-style ids). */
  readonly batchSize: number;
  /** Chunked messages: the id of the first chunk. */
  readonly firstChunkMessageId?: MessageIdData;
}

export class MessageIdFormatError extends Error {
  override readonly name = 'MessageIdFormatError';
}

/** Builds a non-batched id the way a current Pulsar broker reports it (`batch_size` 0 written). */
export function messageIdOf(ledgerId: number, entryId: number, partition = -1): MessageIdData {
  return { ledgerId, entryId, partition, batchIndex: -1, batchSize: 0 };
}

const TAG_LEDGER = 0x08;
const TAG_ENTRY = 0x10;
const TAG_PARTITION = 0x18;
const TAG_BATCH_INDEX = 0x20;
const TAG_BATCH_SIZE = 0x30;
const TAG_FIRST_CHUNK = 0x3a;

function writeVarint(out: number[], value: bigint): void {
  // Negative int32/int64 values are written as 10-byte two's complement varints (protobuf rule).
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

function encodeFields(id: MessageIdData): number[] {
  const out: number[] = [];
  out.push(TAG_LEDGER);
  writeVarint(out, BigInt(id.ledgerId));
  out.push(TAG_ENTRY);
  writeVarint(out, BigInt(id.entryId));
  if (id.partition >= 0) {
    out.push(TAG_PARTITION);
    writeVarint(out, BigInt(id.partition));
  }
  if (id.batchIndex >= 0) {
    out.push(TAG_BATCH_INDEX);
    writeVarint(out, BigInt(id.batchIndex));
  }
  if (id.batchSize >= 0) {
    out.push(TAG_BATCH_SIZE);
    writeVarint(out, BigInt(id.batchSize));
  }
  if (id.firstChunkMessageId !== undefined) {
    const nested = encodeFields(id.firstChunkMessageId);
    out.push(TAG_FIRST_CHUNK);
    writeVarint(out, BigInt(nested.length));
    out.push(...nested);
  }
  return out;
}

export function encodeMessageIdBytes(id: MessageIdData): Buffer {
  return Buffer.from(encodeFields(id));
}

/** The base64 string form used in every frame. */
export function encodeMessageId(id: MessageIdData): string {
  return encodeMessageIdBytes(id).toString('base64');
}

class Reader {
  offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly end = bytes.length,
  ) {}

  done(): boolean {
    return this.offset >= this.end;
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.offset >= this.end) throw new MessageIdFormatError('Truncated varint in MessageIdData');
      const byte = this.bytes[this.offset++] ?? 0;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw new MessageIdFormatError('Malformed varint in MessageIdData');
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.safeLength());
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new MessageIdFormatError(`Unsupported protobuf wire type ${wireType} in MessageIdData`);
    }
  }

  safeLength(): number {
    const length = this.varint();
    if (length > BigInt(this.end - this.offset)) {
      throw new MessageIdFormatError('Truncated length-delimited field in MessageIdData');
    }
    return Number(length);
  }

  advance(count: number): void {
    if (this.offset + count > this.end) throw new MessageIdFormatError('Truncated field in MessageIdData');
    this.offset += count;
  }
}

function toSafeNumber(value: bigint, bits: 32 | 64, field: string): number {
  const signed = BigInt.asIntN(bits, value);
  if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new MessageIdFormatError(`MessageIdData field ${field} is out of range: ${signed}`);
  }
  return Number(signed);
}

function decodeFields(bytes: Uint8Array, start: number, end: number): MessageIdData {
  const reader = new Reader(bytes, end);
  reader.offset = start;
  let ledgerId: number | undefined;
  let entryId: number | undefined;
  let partition = -1;
  let batchIndex = -1;
  let batchSize = -1;
  let firstChunkMessageId: MessageIdData | undefined;
  while (!reader.done()) {
    const tag = reader.varint();
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (field === 1 && wireType === 0) ledgerId = toSafeNumber(reader.varint(), 64, 'ledgerId');
    else if (field === 2 && wireType === 0) entryId = toSafeNumber(reader.varint(), 64, 'entryId');
    else if (field === 3 && wireType === 0) partition = toSafeNumber(reader.varint(), 32, 'partition');
    else if (field === 4 && wireType === 0) batchIndex = toSafeNumber(reader.varint(), 32, 'batch_index');
    else if (field === 6 && wireType === 0) batchSize = toSafeNumber(reader.varint(), 32, 'batch_size');
    else if (field === 7 && wireType === 2) {
      const length = reader.safeLength();
      firstChunkMessageId = decodeFields(bytes, reader.offset, reader.offset + length);
      reader.offset += length;
    } else reader.skip(wireType);
  }
  if (ledgerId === undefined || entryId === undefined) {
    throw new MessageIdFormatError('Message missing required fields: ledgerId, entryId');
  }
  return {
    ledgerId,
    entryId,
    partition,
    batchIndex,
    batchSize,
    ...(firstChunkMessageId === undefined ? {} : { firstChunkMessageId }),
  };
}

export function decodeMessageIdBytes(bytes: Uint8Array): MessageIdData {
  return decodeFields(bytes, 0, bytes.length);
}

/**
 * Decodes the base64 form.
 * @throws Base64FormatError for bad base64, MessageIdFormatError for bytes that are not a MessageIdData.
 */
export function decodeMessageId(text: string): MessageIdData {
  return decodeMessageIdBytes(decodeBase64Strict(text));
}

/**
 * Orders ids as Java's `MessageIdImpl.compareTo`: ledger, then entry, then batch index (non-batched
 * counts as -1). Ids from different partitions are not mutually ordered; compare within one partition.
 */
export function compareMessageIds(a: MessageIdData, b: MessageIdData): number {
  return a.ledgerId - b.ledgerId || a.entryId - b.entryId || a.batchIndex - b.batchIndex;
}

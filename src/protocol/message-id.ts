/**
 * Message ids as the WebSocket API carries them: standard base64 of a protobuf (proto2)
 * `MessageIdData` from Pulsar's `PulsarApi.proto` (docs/protocol.md §7). Only the fields Pulsar writes are
 * modelled; unknown fields are skipped when decoding, as protobuf requires.
 */
import { decodeBase64Strict } from './base64.js';

export interface MessageIdData {
  /** `Infinity` in Pulsar's `MessageId.latest` (Long.MAX_VALUE on the wire), beyond every ledger. */
  readonly ledgerId: number;
  /** `Infinity` in Pulsar's `MessageId.latest` (Long.MAX_VALUE on the wire). */
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

/**
 * Java's `Long.MAX_VALUE`, the ledger and entry id of Pulsar's `MessageId.latest`: decoded as
 * `Infinity` (no safe JS integer can stand for it, and it orders after every real id), and encoded
 * back from it.
 */
const LONG_MAX = (1n << 63n) - 1n;

/** Pulsar's `MessageId.earliest` (-1:-1) and `MessageId.latest` (Long.MAX:Long.MAX), no partition, no batch index. */
export function positionOfMessageId(id: MessageIdData): 'earliest' | 'latest' | undefined {
  if (id.partition !== -1 || id.batchIndex !== -1) return undefined;
  if (id.ledgerId === -1 && id.entryId === -1) return 'earliest';
  if (id.ledgerId === Infinity && id.entryId === Infinity) return 'latest';
  return undefined;
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

/** Writes a field's value; the non-negative safe integers every real id holds without BigInt. */
function writeNumber(out: number[], value: number): void {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    writeVarint(out, value === Infinity ? LONG_MAX : BigInt(value));
    return;
  }
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

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
  writeNumber(out, id.ledgerId);
  out.push(TAG_ENTRY);
  writeNumber(out, id.entryId);
  if (id.partition >= 0) {
    out.push(TAG_PARTITION);
    writeNumber(out, id.partition);
  }
  if (id.batchIndex >= 0) {
    out.push(TAG_BATCH_INDEX);
    writeNumber(out, id.batchIndex);
  }
  if (id.batchSize >= 0) {
    out.push(TAG_BATCH_SIZE);
    writeNumber(out, id.batchSize);
  }
  if (id.firstChunkMessageId !== undefined) {
    const nested = encodeFields(id.firstChunkMessageId);
    out.push(TAG_FIRST_CHUNK);
    writeNumber(out, nested.length);
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

  /**
   * The next varint as a number of `bits` (32 or 64), read without BigInt when it is short: at most 7
   * bytes (49 bits, every real ledger, entry, partition and batch id) and, for a 32-bit field, below
   * 2^31. Anything else (negatives, huge values, truncation) goes through the exact path. Decoding
   * every field through BigInt cost consumers about a tenth of their CPU (ids are decoded per
   * message for the partition, exactly-once checks and acks).
   */
  number(bits: 32 | 64, field: string): number {
    let result = 0;
    let multiplier = 1;
    for (let position = this.offset; position < this.end && position < this.offset + 7; position++) {
      const byte = this.bytes[position] ?? 0;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        if (bits === 32 && result >= 2 ** 31) break;
        this.offset = position + 1;
        return result;
      }
      multiplier *= 128;
    }
    return toSafeNumber(this.varint(), bits, field);
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
  if (bits === 64 && signed === LONG_MAX && (field === 'ledgerId' || field === 'entryId')) return Infinity;
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
    const tag = reader.number(64, 'tag');
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 1 && wireType === 0) ledgerId = reader.number(64, 'ledgerId');
    else if (field === 2 && wireType === 0) entryId = reader.number(64, 'entryId');
    else if (field === 3 && wireType === 0) partition = reader.number(32, 'partition');
    else if (field === 4 && wireType === 0) batchIndex = reader.number(32, 'batch_index');
    else if (field === 6 && wireType === 0) batchSize = reader.number(32, 'batch_size');
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
  // Compared, not subtracted: `MessageId.latest`'s Infinity minus itself would be NaN.
  return order(a.ledgerId, b.ledgerId) || order(a.entryId, b.entryId) || order(a.batchIndex, b.batchIndex);
}

const order = (a: number, b: number): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * On-disk record format of a topic's log: `[u32 bodyLength][u32 checksum][body]`, with
 * `body = [u32 metaLength][meta JSON][payload bytes]`. The checksum is the CRC-32 of the body seeded
 * with the entry id + 1, so a record names its own entry id: recovery tells a record torn by a crash
 * from a complete one, and after a damaged stretch of a ledger finds the next intact record together
 * with its entry id (see segment-recovery.ts). Ledgers written before the seed was added hold
 * unseeded checksums (seed 0); they are still read.
 */
import { crc32 } from 'node:zlib';
import type { MessageEncryption } from '../../encryption/message-crypto.js';

export const RECORD_HEADER_BYTES = 8;

/** A message as the broker stores it. */
export interface StoredMessage {
  readonly payload: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  readonly key?: string;
  /** Epoch ms. */
  readonly publishTime: number;
  /** Epoch ms, when the producer set one. */
  readonly eventTime?: number;
  readonly producerName: string;
  readonly sequenceId: number;
  /** Epoch ms before which the message must not be delivered (Shared/Key_Shared only). */
  readonly deliverAt?: number;
  readonly replicationClusters?: readonly string[];
  /** Set when the payload is encrypted (server-side or client-side mode): what consumers need to decrypt. */
  readonly encryption?: MessageEncryption;
}

type StoredMeta = Omit<StoredMessage, 'payload'>;

/**
 * Encodes a record without its checksum: the entry id it gets is known only when its batch is
 * written, and {@link stampChecksum} fills it in then.
 *
 * The record has memory of its own (never a slice of Node's shared 8 KiB pool), so the read cache
 * can keep its payload as a view into it ({@link payloadOfRecord}): a cached small message pinning a
 * pool slab full of garbage would cost several times what the cache counts.
 */
export function encodeRecord(message: StoredMessage): Buffer {
  const { payload, ...meta } = message;
  const metaBytes = Buffer.from(JSON.stringify(meta satisfies StoredMeta), 'utf8');
  const bodyLength = 4 + metaBytes.length + payload.length;
  const record = Buffer.allocUnsafeSlow(RECORD_HEADER_BYTES + bodyLength);
  record.writeUInt32LE(bodyLength, 0);
  record.writeUInt32LE(metaBytes.length, RECORD_HEADER_BYTES);
  metaBytes.copy(record, RECORD_HEADER_BYTES + 4);
  payload.copy(record, RECORD_HEADER_BYTES + 4 + metaBytes.length);
  return record;
}

/** The payload of an encoded record, as a view into it (no copy). */
export function payloadOfRecord(record: Buffer): Buffer {
  const metaLength = record.readUInt32LE(RECORD_HEADER_BYTES);
  return record.subarray(RECORD_HEADER_BYTES + 4 + metaLength);
}

/** The CRC seed of entry `entryId`; 0 is what ledgers written before seeding hold. */
function seedOf(entryId: number): number {
  return (entryId + 1) % 2 ** 32;
}

/** Writes the checksum of an encoded record that becomes entry `entryId` of its ledger. */
export function stampChecksum(record: Buffer, entryId: number): void {
  record.writeUInt32LE(crc32(record.subarray(RECORD_HEADER_BYTES), seedOf(entryId)), 4);
}

export class CorruptRecordError extends Error {
  override readonly name = 'CorruptRecordError';
}

/** How a ledger's checksums are seeded: with the entry id, or not at all (written before seeding). */
export type ChecksumKind = 'seeded' | 'unseeded';

/** Checks a body against the checksum from its header, as entry `entryId` of a ledger of `kind`. */
export function bodyMatchesChecksum(
  body: Buffer,
  checksum: number,
  entryId: number,
  kind: ChecksumKind,
): boolean {
  return crc32(body, kind === 'seeded' ? seedOf(entryId) : 0) === checksum;
}

/**
 * The entry id a seeded record names, when it is one of `firstEntryId..lastEntryId`: what recovery
 * needs after a damaged stretch, where it cannot count the records it lost. CRC-32 is linear in its
 * seed (`crc(body, seed) = crc(body, 0) ^ M(seed)`, with `M` fixed by the body's length), so each
 * candidate costs a few XORs, not a pass over the body.
 */
export function entryIdOfSeeded(
  body: Buffer,
  checksum: number,
  firstEntryId: number,
  lastEntryId: number,
): number | undefined {
  const zeros = Buffer.alloc(body.length);
  const zeroCrc = crc32(zeros);
  const basis = Array.from({ length: 32 }, (_, bit) => (crc32(zeros, 2 ** bit) ^ zeroCrc) >>> 0);
  const wanted = (checksum ^ crc32(body)) >>> 0;
  for (let entryId = firstEntryId; entryId <= lastEntryId; entryId++) {
    let seed = seedOf(entryId);
    let image = 0;
    for (let bit = 0; seed !== 0; bit++, seed = Math.floor(seed / 2)) {
      if (seed % 2 === 1) image ^= basis[bit] ?? 0;
    }
    if (image >>> 0 === wanted) return entryId;
  }
  return undefined;
}

export function decodeBody(body: Buffer): StoredMessage {
  if (body.length < 4) throw new CorruptRecordError('record body shorter than its meta length');
  const metaLength = body.readUInt32LE(0);
  if (4 + metaLength > body.length) throw new CorruptRecordError('record meta longer than its body');
  const meta = JSON.parse(body.toString('utf8', 4, 4 + metaLength)) as StoredMeta;
  // Copy the payload out so a cached message does not pin a whole read buffer.
  return { ...meta, payload: Buffer.from(body.subarray(4 + metaLength)) };
}

/** Bytes a message costs in the read cache (payload plus a rough allowance for its metadata). */
export function cachedSize(message: StoredMessage): number {
  return message.payload.length + 256;
}

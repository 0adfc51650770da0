/**
 * On-disk record format of a topic's log: `[u32 bodyLength][u32 crc32(body)][body]`, with
 * `body = [u32 metaLength][meta JSON][payload bytes]`. The CRC lets recovery tell a record torn by a
 * crash from a complete one.
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

export function encodeRecord(message: StoredMessage): Buffer {
  const { payload, ...meta } = message;
  const metaBytes = Buffer.from(JSON.stringify(meta satisfies StoredMeta), 'utf8');
  const bodyLength = 4 + metaBytes.length + payload.length;
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + bodyLength);
  record.writeUInt32LE(bodyLength, 0);
  record.writeUInt32LE(metaBytes.length, RECORD_HEADER_BYTES);
  metaBytes.copy(record, RECORD_HEADER_BYTES + 4);
  payload.copy(record, RECORD_HEADER_BYTES + 4 + metaBytes.length);
  record.writeUInt32LE(crc32(record.subarray(RECORD_HEADER_BYTES)), 4);
  return record;
}

export class CorruptRecordError extends Error {
  override readonly name = 'CorruptRecordError';
}

/** Checks a body against the CRC from its header. */
export function bodyMatchesChecksum(body: Buffer, expectedCrc: number): boolean {
  return crc32(body) === expectedCrc;
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

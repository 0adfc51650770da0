import { describe, expect, it } from 'vitest';
import {
  compareMessageIds,
  decodeMessageId,
  encodeMessageId,
  decodeMessageIdBytes,
  encodeMessageIdBytes,
  messageIdOf,
  MessageIdFormatError,
  Base64FormatError,
} from '../../src/protocol/index.js';

describe('message id codec (docs/protocol.md §7)', () => {
  it('encodes a current-style id with batch_size 0: CAMQADAA = ledger 3, entry 0', () => {
    expect(encodeMessageId(messageIdOf(3, 0))).toBe('CAMQADAA');
    expect([...encodeMessageIdBytes(messageIdOf(3, 0))]).toEqual([0x08, 0x03, 0x10, 0x00, 0x30, 0x00]);
  });

  it('decodes an old-style id without batch_size: CAAQAw== = ledger 0, entry 3', () => {
    expect(decodeMessageId('CAAQAw==')).toEqual({
      ledgerId: 0,
      entryId: 3,
      partition: -1,
      batchIndex: -1,
      batchSize: -1,
    });
  });

  it('round-trips partition, batch index and large ledger ids', () => {
    const id = { ledgerId: 2 ** 40 + 7, entryId: 123_456, partition: 5, batchIndex: 2, batchSize: 10 };
    expect(decodeMessageId(encodeMessageId(id))).toEqual(id);
  });

  it('decodes short varints as numbers and long ones exactly, at every boundary', () => {
    // 7-byte varints (up to 2^49 - 1) take the number path, longer ones the BigInt path.
    for (const value of [
      0,
      1,
      127,
      128,
      2 ** 21,
      2 ** 49 - 1,
      2 ** 49,
      2 ** 53 - 1,
      Number.MAX_SAFE_INTEGER,
    ]) {
      const id = { ledgerId: value, entryId: value, partition: -1, batchIndex: -1, batchSize: -1 };
      expect(decodeMessageId(encodeMessageId(id))).toEqual(id);
    }
    for (const value of [0, 127, 128, 2 ** 28, 2 ** 31 - 1]) {
      const id = { ledgerId: 1, entryId: 2, partition: value, batchIndex: value, batchSize: value };
      expect(decodeMessageId(encodeMessageId(id))).toEqual(id);
    }
    // A 32-bit field written as an unsigned 5-byte varint of 2^32 - 1 reads as -1, as Java's (int) cast.
    const bytes = Buffer.from([0x08, 0x01, 0x10, 0x02, 0x18, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(decodeMessageIdBytes(bytes).partition).toBe(-1);
  });

  it('writes fields in order 1,2,3,4,6 for a partitioned batched id', () => {
    const bytes = [
      ...encodeMessageIdBytes({ ledgerId: 1, entryId: 2, partition: 3, batchIndex: 4, batchSize: 5 }),
    ];
    expect(bytes).toEqual([0x08, 1, 0x10, 2, 0x18, 3, 0x20, 4, 0x30, 5]);
  });

  it('accepts fields in any order and skips unknown ones', () => {
    // entry 2, unknown field 9 (varint 1), ledger 1, unknown field 10 (bytes "ab")
    const bytes = Buffer.from([0x10, 2, 0x48, 1, 0x08, 1, 0x52, 2, 0x61, 0x62]);
    expect(decodeMessageId(bytes.toString('base64'))).toMatchObject({ ledgerId: 1, entryId: 2 });
  });

  it('decodes the earliest sentinel (-1:-1, 10-byte varints)', () => {
    const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    const bytes = Buffer.from([0x08, ...minusOne, 0x10, ...minusOne]);
    expect(decodeMessageId(bytes.toString('base64'))).toMatchObject({ ledgerId: -1, entryId: -1 });
  });

  it('round-trips a chunked id', () => {
    const id = { ...messageIdOf(9, 20), firstChunkMessageId: messageIdOf(9, 17) };
    expect(decodeMessageId(encodeMessageId(id))).toEqual(id);
  });

  it('rejects bytes without the required fields or with truncated varints', () => {
    expect(() => decodeMessageId(Buffer.from([0x10, 1]).toString('base64'))).toThrow(MessageIdFormatError);
    expect(() => decodeMessageId(Buffer.from([0x08, 0x80]).toString('base64'))).toThrow(MessageIdFormatError);
    expect(() => decodeMessageId(Buffer.from('garbage!').toString('base64'))).toThrow(MessageIdFormatError);
  });

  it('rejects non-base64 text with the decoder error', () => {
    expect(() => decodeMessageId('not-base64')).toThrow(Base64FormatError);
  });

  it('orders by ledger, entry, then batch index (non-batched = -1)', () => {
    expect(compareMessageIds(messageIdOf(1, 9), messageIdOf(2, 0))).toBeLessThan(0);
    expect(compareMessageIds(messageIdOf(2, 1), messageIdOf(2, 0))).toBeGreaterThan(0);
    expect(compareMessageIds(messageIdOf(2, 1), { ...messageIdOf(2, 1), batchIndex: 0 })).toBeLessThan(0);
    expect(compareMessageIds(messageIdOf(2, 1), messageIdOf(2, 1))).toBe(0);
  });
});

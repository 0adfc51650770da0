/**
 * Just enough of RFC 6455 framing for the fault proxy to see whole frames in a TCP byte stream:
 * split a buffer into frames, read a text frame's content (unmasking a client's), and build a frame
 * to inject (masked when it goes to the server, as clients must send them).
 */
import { randomBytes } from 'node:crypto';

export interface RawFrame {
  /** The frame's bytes as they came, header included. */
  readonly bytes: Buffer;
  readonly opcode: number;
  /** The payload, unmasked. */
  readonly payload: Buffer;
}

export const OPCODE_TEXT = 0x1;

/** Splits off the complete frames at the start of `buffer`; `rest` is an incomplete tail. */
export function splitFrames(buffer: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let offset = 0;
  for (;;) {
    const frame = frameAt(buffer, offset);
    if (frame === undefined) break;
    frames.push(frame);
    offset += frame.bytes.length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

function frameAt(buffer: Buffer, offset: number): RawFrame | undefined {
  if (buffer.length - offset < 2) return undefined;
  const first = buffer[offset] ?? 0;
  const second = buffer[offset + 1] ?? 0;
  const masked = (second & 0x80) !== 0;
  let length = second & 0x7f;
  let header = 2;
  if (length === 126) {
    if (buffer.length - offset < 4) return undefined;
    length = buffer.readUInt16BE(offset + 2);
    header = 4;
  } else if (length === 127) {
    if (buffer.length - offset < 10) return undefined;
    length = Number(buffer.readBigUInt64BE(offset + 2));
    header = 10;
  }
  const maskStart = offset + header;
  const payloadStart = maskStart + (masked ? 4 : 0);
  const end = payloadStart + length;
  if (buffer.length < end) return undefined;
  const payload = Buffer.from(buffer.subarray(payloadStart, end));
  if (masked) {
    for (let i = 0; i < payload.length; i++)
      payload[i] = (payload[i] ?? 0) ^ (buffer[maskStart + (i % 4)] ?? 0);
  }
  return { bytes: buffer.subarray(offset, end), opcode: first & 0x0f, payload };
}

/** A final text frame holding `text`; masked (as a client sends) when `masked`. */
export function textFrame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const length = payload.length;
  const lengthBytes =
    length < 126
      ? Buffer.from([length | (masked ? 0x80 : 0)])
      : length < 0x10000
        ? Buffer.from([126 | (masked ? 0x80 : 0), length >> 8, length & 0xff])
        : (() => {
            const bytes = Buffer.alloc(9);
            bytes[0] = 127 | (masked ? 0x80 : 0);
            bytes.writeBigUInt64BE(BigInt(length), 1);
            return bytes;
          })();
  if (!masked) return Buffer.concat([Buffer.from([0x80 | OPCODE_TEXT]), lengthBytes, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = (body[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return Buffer.concat([Buffer.from([0x80 | OPCODE_TEXT]), lengthBytes, mask, body]);
}

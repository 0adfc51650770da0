/**
 * Pulsar's batch framing: a batch body is, per message, `[u32 BE metadata length][SingleMessageMetadata
 * protobuf][payload]`. Only the fields a WebSocket message can carry are read (properties = 1,
 * partition_key = 2, payload_size = 3, event_time = 5, ordering_key = 7, sequence_id = 8); unknown fields
 * are skipped by wire type, as protobuf readers do.
 */

export class BatchFormatError extends Error {
  override readonly name = 'BatchFormatError';
}

/** One message of a batch. */
export interface SingleMessage {
  readonly payload: Buffer;
  readonly properties: Record<string, string>;
  readonly key?: string;
  /** Epoch ms, when set (0 means unset, as in Pulsar). */
  readonly eventTime?: number;
  readonly sequenceId?: number;
}

class ProtoReader {
  constructor(
    private readonly buf: Buffer,
    public pos = 0,
    private readonly end = buf.length,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new BatchFormatError('truncated varint in SingleMessageMetadata');
      const byte = this.buf[this.pos++] ?? 0;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return result;
      multiplier *= 128;
    }
    throw new BatchFormatError('varint longer than 10 bytes in SingleMessageMetadata');
  }

  bytes(): Buffer {
    const length = this.varint();
    if (this.pos + length > this.end) throw new BatchFormatError('truncated field in SingleMessageMetadata');
    const value = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw new BatchFormatError(`unsupported protobuf wire type ${wireType}`);
  }
}

function readKeyValue(buf: Buffer): [string, string] {
  const reader = new ProtoReader(buf);
  let key = '';
  let value = '';
  while (!reader.done) {
    const tag = reader.varint();
    if (tag === (1 << 3) + 2) key = reader.bytes().toString('utf8');
    else if (tag === (2 << 3) + 2) value = reader.bytes().toString('utf8');
    else reader.skip(tag & 7);
  }
  return [key, value];
}

interface ParsedMetadata {
  properties: Record<string, string>;
  key?: string;
  payloadSize?: number;
  eventTime?: number;
  sequenceId?: number;
}

function readSingleMetadata(buf: Buffer): ParsedMetadata {
  const reader = new ProtoReader(buf);
  const parsed: ParsedMetadata = { properties: {} };
  while (!reader.done) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 1 && wireType === 2) {
      const [key, value] = readKeyValue(reader.bytes());
      parsed.properties[key] = value;
    } else if (field === 2 && wireType === 2) parsed.key = reader.bytes().toString('utf8');
    else if (field === 3 && wireType === 0) parsed.payloadSize = reader.varint();
    else if (field === 5 && wireType === 0) parsed.eventTime = reader.varint();
    else if (field === 8 && wireType === 0) parsed.sequenceId = reader.varint();
    else reader.skip(wireType);
  }
  return parsed;
}

/**
 * Splits a decrypted, decompressed batch body. `count` is the batch size when known; 'unknown' (the
 * legacy `batchSize` shape) reads frames until the body ends.
 * @throws BatchFormatError for a body that does not frame into `count` messages exactly.
 */
export function splitBatch(body: Buffer, count: number | 'unknown'): SingleMessage[] {
  const messages: SingleMessage[] = [];
  let pos = 0;
  while (count === 'unknown' ? pos < body.length : messages.length < count) {
    if (pos + 4 > body.length)
      throw new BatchFormatError(`batch body ends after ${messages.length} messages`);
    const metaLength = body.readUInt32BE(pos);
    pos += 4;
    if (pos + metaLength > body.length) throw new BatchFormatError('batch message metadata past the body');
    const meta = readSingleMetadata(body.subarray(pos, pos + metaLength));
    pos += metaLength;
    if (meta.payloadSize === undefined) throw new BatchFormatError('batch message without payload_size');
    if (pos + meta.payloadSize > body.length)
      throw new BatchFormatError('batch message payload past the body');
    messages.push({
      payload: Buffer.from(body.subarray(pos, pos + meta.payloadSize)),
      properties: meta.properties,
      ...(meta.key === undefined ? {} : { key: meta.key }),
      ...(meta.eventTime === undefined || meta.eventTime === 0 ? {} : { eventTime: meta.eventTime }),
      ...(meta.sequenceId === undefined ? {} : { sequenceId: meta.sequenceId }),
    });
    pos += meta.payloadSize;
  }
  if (pos !== body.length) throw new BatchFormatError(`${body.length - pos} bytes left after the batch`);
  return messages;
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function field(number: number, value: Buffer): Buffer {
  return Buffer.concat([varint((number << 3) + 2), varint(value.length), value]);
}

function numberField(number: number, value: number): Buffer {
  return Buffer.concat([varint(number << 3), varint(value)]);
}

/** Frames messages as a Pulsar batch body (the inverse of `splitBatch`). */
export function buildBatch(messages: readonly SingleMessage[]): Buffer {
  const parts: Buffer[] = [];
  for (const message of messages) {
    const meta = Buffer.concat([
      ...Object.entries(message.properties).map(([key, value]) =>
        field(1, Buffer.concat([field(1, Buffer.from(key)), field(2, Buffer.from(value))])),
      ),
      ...(message.key === undefined ? [] : [field(2, Buffer.from(message.key))]),
      numberField(3, message.payload.length),
      ...(message.eventTime === undefined ? [] : [numberField(5, message.eventTime)]),
      ...(message.sequenceId === undefined ? [] : [numberField(8, message.sequenceId)]),
    ]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(meta.length);
    parts.push(length, meta, message.payload);
  }
  return Buffer.concat(parts);
}

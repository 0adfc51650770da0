/**
 * How bytes become messages: `lines` (one message per line, the newline stripped), `ndjson` (one
 * JSON value per line; key and properties optionally taken from fields), `raw` (the whole input, or
 * fixed-size chunks). Framers keep byte offsets so that sources can checkpoint exactly.
 */
import { ConnectorError } from '../errors.js';
import type { ProducerMessageObject } from '../streams/producer-message.js';

export type Framing = 'lines' | 'ndjson' | 'raw';
export const FRAMINGS: readonly Framing[] = ['lines', 'ndjson', 'raw'];

/** A framed record: its bytes, where it ends in the input (after its newline), its line number (1-based). */
export interface FramedRecord {
  readonly payload: Buffer;
  readonly end: number;
  readonly line: number;
}

/** Splits bytes into records; chunks go in with `push`, the remainder at the end of input with `flush`. */
export interface Framer {
  push(chunk: Buffer): FramedRecord[];
  flush(): FramedRecord[];
  /** Forgets buffered bytes and starts again at `offset` (a truncated or rotated file). */
  reset(offset: number): void;
}

const NEWLINE = 0x0a;

/**
 * What both framers keep: the bytes of the record being assembled, the input offset where it
 * starts, and how many records were emitted (line numbers for lines, chunk numbers for raw).
 */
abstract class BufferingFramer implements Framer {
  protected pending: Buffer[] = [];
  protected pendingBytes = 0;
  protected count = 0;

  constructor(
    protected start: number,
    protected readonly maxRecordBytes: number,
    protected readonly describe: (line: number) => string,
  ) {}

  abstract push(chunk: Buffer): FramedRecord[];

  /** Keeps `bytes` (copied: the caller reuses its read buffer) for the record being assembled. */
  protected hold(bytes: Buffer): void {
    this.pending.push(Buffer.from(bytes));
    this.pendingBytes += bytes.length;
  }

  /** Emits the held bytes plus `tail` as one record that takes `extra` more input bytes (its newline). */
  protected emit(tail: Buffer, extra: number): FramedRecord {
    const payload = this.pendingBytes === 0 ? Buffer.from(tail) : Buffer.concat([...this.pending, tail]);
    this.start += this.pendingBytes + tail.length + extra;
    this.pending = [];
    this.pendingBytes = 0;
    return { payload, end: this.start, line: ++this.count };
  }

  flush(): FramedRecord[] {
    return this.pendingBytes === 0 ? [] : [this.emit(Buffer.alloc(0), 0)];
  }

  reset(offset: number): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.start = offset;
    this.count = 0;
  }
}

class LineFramer extends BufferingFramer {
  push(chunk: Buffer): FramedRecord[] {
    const records: FramedRecord[] = [];
    let from = 0;
    for (let at = chunk.indexOf(NEWLINE); at >= 0; at = chunk.indexOf(NEWLINE, from)) {
      records.push(this.emit(chunk.subarray(from, at), 1));
      from = at + 1;
    }
    if (from < chunk.length) {
      this.hold(chunk.subarray(from));
      if (this.pendingBytes > this.maxRecordBytes) {
        throw new ConnectorError(
          'file',
          `${this.describe(this.count + 1)} is longer than ${this.maxRecordBytes} bytes (no newline found); raise the limit or use --format raw`,
        );
      }
    }
    return records;
  }
}

class RawFramer extends BufferingFramer {
  /** `chunkBytes` undefined: the whole input is one record. */
  constructor(
    start: number,
    private readonly chunkBytes: number | undefined,
    maxRecordBytes: number,
    describe: (line: number) => string,
  ) {
    super(start, maxRecordBytes, describe);
  }

  push(chunk: Buffer): FramedRecord[] {
    const { chunkBytes } = this;
    if (chunkBytes === undefined) {
      this.hold(chunk);
      if (this.pendingBytes > this.maxRecordBytes) {
        throw new ConnectorError(
          'file',
          `${this.describe(1)} is larger than ${this.maxRecordBytes} bytes; send it in chunks (--chunk-bytes)`,
        );
      }
      return [];
    }
    const records: FramedRecord[] = [];
    let from = 0;
    while (this.pendingBytes + chunk.length - from >= chunkBytes) {
      const take = chunkBytes - this.pendingBytes;
      records.push(this.emit(chunk.subarray(from, from + take), 0));
      from += take;
    }
    if (from < chunk.length) this.hold(chunk.subarray(from));
    return records;
  }
}

export interface FramerOptions {
  readonly format: Framing;
  /** raw: fixed-size chunks; undefined sends the whole input as one message. */
  readonly chunkBytes?: number;
  /** A record longer than this is an error naming the input and line. */
  readonly maxRecordBytes: number;
  /** Where a line is, for errors: e.g. `in.txt:42`. */
  readonly describe: (line: number) => string;
}

export function createFramer(offset: number, options: FramerOptions): Framer {
  return options.format === 'raw'
    ? new RawFramer(offset, options.chunkBytes, options.maxRecordBytes, options.describe)
    : new LineFramer(offset, options.maxRecordBytes, options.describe);
}

export interface NdjsonMapping {
  /** Field whose value (string or number) becomes the message key. */
  readonly keyField?: string;
  /** Field whose value (an object) becomes the message properties (values as strings). */
  readonly propertiesField?: string;
}

/**
 * One framed record as the message to publish. ndjson lines must be JSON (blank lines too: an empty
 * message would not be NDJSON); the payload is the line as it was.
 * `input` names the input (a file's path, or stdin's name) in errors; the line is added only then.
 * @throws ConnectorError naming the input and line for a malformed NDJSON line.
 */
export function toProducerMessage(
  record: FramedRecord,
  format: Framing,
  mapping: NdjsonMapping,
  input: string,
): ProducerMessageObject {
  if (format !== 'ndjson') return { payload: record.payload };
  let value: unknown;
  try {
    value = JSON.parse(record.payload.toString('utf8'));
  } catch (error) {
    const where = `${input}:${record.line}`;
    throw new ConnectorError('file', `${where}: not a JSON value (${(error as Error).message})`, {
      cause: error,
    });
  }
  const fields = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  let key: string | undefined;
  if (mapping.keyField !== undefined) {
    const raw = fields[mapping.keyField];
    if (typeof raw === 'string' || typeof raw === 'number') key = String(raw);
  }
  let properties: Record<string, string> | undefined;
  if (mapping.propertiesField !== undefined) {
    const raw = fields[mapping.propertiesField];
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      properties = Object.fromEntries(
        Object.entries(raw).map(([name, item]) => [
          name,
          typeof item === 'string' ? item : JSON.stringify(item),
        ]),
      );
    }
  }
  return {
    payload: record.payload,
    ...(key === undefined ? {} : { key }),
    ...(properties === undefined ? {} : { properties }),
  };
}

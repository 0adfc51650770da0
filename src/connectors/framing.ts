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

class LineFramer implements Framer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private start: number;
  private line = 0;

  constructor(
    offset: number,
    private readonly maxRecordBytes: number,
    private readonly describe: (line: number) => string,
  ) {
    this.start = offset;
  }

  push(chunk: Buffer): FramedRecord[] {
    const records: FramedRecord[] = [];
    let from = 0;
    for (let at = chunk.indexOf(NEWLINE); at >= 0; at = chunk.indexOf(NEWLINE, from)) {
      const part = chunk.subarray(from, at);
      const payload = this.pendingBytes === 0 ? Buffer.from(part) : Buffer.concat([...this.pending, part]);
      this.start += this.pendingBytes + part.length + 1;
      this.pending = [];
      this.pendingBytes = 0;
      records.push({ payload, end: this.start, line: ++this.line });
      from = at + 1;
    }
    if (from < chunk.length) {
      this.pending.push(Buffer.from(chunk.subarray(from)));
      this.pendingBytes += chunk.length - from;
      if (this.pendingBytes > this.maxRecordBytes) {
        throw new ConnectorError(
          'file',
          `${this.describe(this.line + 1)} is longer than ${this.maxRecordBytes} bytes (no newline found); raise the limit or use --format raw`,
        );
      }
    }
    return records;
  }

  flush(): FramedRecord[] {
    if (this.pendingBytes === 0) return [];
    const payload = Buffer.concat(this.pending);
    this.start += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    return [{ payload, end: this.start, line: ++this.line }];
  }

  reset(offset: number): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.start = offset;
    this.line = 0;
  }
}

class RawFramer implements Framer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private start: number;
  private index = 0;

  /** `chunkBytes` undefined: the whole input is one record. */
  constructor(
    offset: number,
    private readonly chunkBytes: number | undefined,
    private readonly maxRecordBytes: number,
    private readonly describe: (line: number) => string,
  ) {
    this.start = offset;
  }

  push(chunk: Buffer): FramedRecord[] {
    this.pending.push(Buffer.from(chunk));
    this.pendingBytes += chunk.length;
    if (this.chunkBytes === undefined) {
      if (this.pendingBytes > this.maxRecordBytes) {
        throw new ConnectorError(
          'file',
          `${this.describe(1)} is larger than ${this.maxRecordBytes} bytes; send it in chunks (--chunk-bytes)`,
        );
      }
      return [];
    }
    const records: FramedRecord[] = [];
    let all = Buffer.concat(this.pending);
    while (all.length >= this.chunkBytes) {
      this.start += this.chunkBytes;
      records.push({ payload: all.subarray(0, this.chunkBytes), end: this.start, line: ++this.index });
      all = all.subarray(this.chunkBytes);
    }
    this.pending = all.length === 0 ? [] : [all];
    this.pendingBytes = all.length;
    return records;
  }

  flush(): FramedRecord[] {
    if (this.pendingBytes === 0) return [];
    const payload = Buffer.concat(this.pending);
    this.start += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    return [{ payload, end: this.start, line: ++this.index }];
  }

  reset(offset: number): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.start = offset;
    this.index = 0;
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
 * @throws ConnectorError naming the input and line for a malformed NDJSON line.
 */
export function toProducerMessage(
  record: FramedRecord,
  format: Framing,
  mapping: NdjsonMapping,
  where: string,
): ProducerMessageObject {
  if (format !== 'ndjson') return { payload: record.payload };
  let value: unknown;
  try {
    value = JSON.parse(record.payload.toString('utf8'));
  } catch (error) {
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

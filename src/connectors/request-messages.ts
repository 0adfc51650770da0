/**
 * An HTTP request body as producer messages, as the webhook source and the sidecar's publish
 * endpoint read it: a raw body is one message; `application/x-ndjson` is one message per non-empty
 * line (each must be UTF-8 JSON; a line may end in `\r\n`); the key and properties come from
 * headers. The whole body is checked first (a bad line refuses the request before anything of it is
 * published); the messages are then made one at a time as the producer takes them, each payload a
 * view of the body, so a body of half a million lines never is half a million objects at once.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import type { ProducerMessageObject } from '../streams/producer-message.js';
import { HttpRefusal } from './http-replies.js';

export interface RequestHeaderNames {
  /** @default 'x-message-key' */
  readonly keyHeader?: string;
  /** Headers `<prefix>name` become property `name`. @default 'x-property-' */
  readonly propertyHeaderPrefix?: string;
}

/** A checked request body: how many messages it holds, and a way to make them one by one. */
export interface RequestMessages {
  readonly count: number;
  /** Each message in the body's order, made when asked for. */
  messages(): Generator<ProducerMessageObject, void, undefined>;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** JSON's white space within a line: space, tab, carriage return. */
function isBlank(body: Buffer, start: number, end: number): boolean {
  for (let at = start; at < end; at++) {
    const byte = body[at];
    if (byte !== 0x20 && byte !== 0x09 && byte !== CARRIAGE_RETURN) return false;
  }
  return true;
}

/** `[start, end)` of each line's content (a trailing `\r` left out) and its 1-based number. */
function* lines(body: Buffer): Generator<readonly [start: number, end: number, line: number]> {
  let start = 0;
  let line = 1;
  while (start < body.length) {
    const newline = body.indexOf(NEWLINE, start);
    const next = newline < 0 ? body.length : newline;
    const end = next > start && body[next - 1] === CARRIAGE_RETURN ? next - 1 : next;
    yield [start, end, line];
    start = next + 1;
    line += 1;
  }
}

/** Counts the NDJSON records. @throws HttpRefusal 400 naming the first line that is not UTF-8 JSON. */
function countNdjson(body: Buffer): number {
  let count = 0;
  for (const [start, end, line] of lines(body)) {
    if (isBlank(body, start, end)) continue;
    const bytes = body.subarray(start, end);
    if (!isUtf8(bytes)) throw new HttpRefusal(400, `line ${line} is not UTF-8`);
    try {
      JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      throw new HttpRefusal(400, `line ${line} is not JSON: ${(error as Error).message}`);
    }
    count += 1;
  }
  return count;
}

/** @throws HttpRefusal 400 for an empty body, or a body without one valid NDJSON line. */
export function messagesOfRequest(
  headers: IncomingHttpHeaders,
  body: Buffer,
  names: RequestHeaderNames,
): RequestMessages {
  if (body.length === 0) throw new HttpRefusal(400, 'empty body: nothing to publish');
  const prefix = names.propertyHeaderPrefix ?? 'x-property-';
  const key = headers[names.keyHeader ?? 'x-message-key'];
  const properties: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(prefix) && typeof value === 'string') properties[name.slice(prefix.length)] = value;
  }
  // One key and one properties object shared by every message of the request (nothing mutates them).
  const decorate = (payload: Buffer): ProducerMessageObject => ({
    payload,
    ...(typeof key === 'string' ? { key } : {}),
    ...(Object.keys(properties).length === 0 ? {} : { properties }),
  });
  const type = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-ndjson') {
    return {
      count: 1,
      *messages() {
        yield decorate(body);
      },
    };
  }
  const count = countNdjson(body);
  if (count === 0) throw new HttpRefusal(400, 'no NDJSON line in the body');
  return {
    count,
    *messages() {
      for (const [start, end] of lines(body)) {
        if (!isBlank(body, start, end)) yield decorate(body.subarray(start, end));
      }
    },
  };
}

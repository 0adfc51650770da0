/**
 * Reading a request body for publishing: at most `maxBytes` (413 before a byte is read when
 * `Content-Length` says more, or as soon as the body grows past it) within `timeoutMs` (408 past
 * it), with its HMAC-SHA256 computed chunk by chunk as it arrives. The body is kept (it is at most
 * `maxBytes`) because nothing of it may be published before the signature is checked and every
 * NDJSON line is known to be valid: a request is stored whole or refused whole, never
 * half-published and then refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpRefusal } from './http-replies.js';

/** An HMAC the body must have: the key and the digest the caller sent (`sha256=<hex>`). */
export interface ExpectedSignature {
  readonly key: string;
  /** The 32-byte digest decoded from the signature header. */
  readonly digest: Buffer;
  /** The header's name, for the refusal. */
  readonly header: string;
}

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/**
 * The digest in a signature header's value, checked before the body is read.
 * @throws HttpRefusal 401 when the header is missing or not `sha256=<64 hex digits>`.
 */
export function expectedSignature(key: string, header: string, value: unknown): ExpectedSignature {
  if (typeof value !== 'string') {
    throw new HttpRefusal(401, `missing ${header} header (sha256=<hex HMAC-SHA256 of the body>)`);
  }
  const hex = SIGNATURE.exec(value.trim())?.[1];
  if (hex === undefined) {
    throw new HttpRefusal(401, `${header} is not sha256=<64 hex digits of the HMAC-SHA256 of the body>`);
  }
  return { key, digest: Buffer.from(hex, 'hex'), header };
}

/**
 * @throws HttpRefusal 413 when `Content-Length` is over `maxBytes` (checked without reading).
 */
export function checkDeclaredLength(request: IncomingMessage, maxBytes: number, limitName: string): void {
  const declared = Number(request.headers['content-length'] ?? NaN);
  if (declared > maxBytes) {
    throw new HttpRefusal(413, `body of ${declared} bytes is over the ${maxBytes}-byte limit (${limitName})`);
  }
}

/** How much of a body may be read, and for how long; the names are the options', for the refusals. */
export interface BodyLimits {
  readonly maxBytes: number;
  /** e.g. `maxBodyBytes`, `publish.maxBodyBytes` */
  readonly maxBytesName: string;
  /** From the first wait for the body to its last byte. */
  readonly timeoutMs: number;
  /** e.g. `bodyTimeoutMs`, `publish.bodyTimeout` */
  readonly timeoutName: string;
}

/**
 * The whole body, its signature verified when `signature` is given. A body that has not arrived
 * whole within `timeoutMs` is refused (408; the refusal closes the connection): a client trickling
 * its body a byte at a time would otherwise hold one of the requests handled at once for as long as
 * Node lets a request take (5 minutes by default), a cheap way to starve the server.
 * @throws HttpRefusal 413 (over `maxBytes`: reading stops there), 408 (too slow), 401 (the signature
 *   does not match), 400 (the client went away before the body ended).
 */
export async function readRequestBody(
  request: IncomingMessage,
  limits: BodyLimits,
  signature?: ExpectedSignature,
): Promise<Buffer> {
  const { maxBytes, maxBytesName, timeoutMs, timeoutName } = limits;
  checkDeclaredLength(request, maxBytes, maxBytesName);
  if (request.destroyed) throw new HttpRefusal(400, 'the client went away before sending the body');
  const hmac = signature === undefined ? undefined : createHmac('sha256', signature.key);
  const parts: Buffer[] = [];
  let size = 0;
  // Events rather than `for await`: leaving an async iteration early destroys the request, and its
  // socket with it, before the 413 or 408 could be sent.
  await new Promise<void>((resolve, reject) => {
    const stop = (error?: HttpRefusal): void => {
      clearTimeout(deadline);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onCutShort);
      request.off('close', onClose);
      if (error === undefined) {
        resolve();
        return;
      }
      // Nothing more is read: the refusal closes the connection.
      request.pause();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        stop(new HttpRefusal(413, `body is over the ${maxBytes}-byte limit (${maxBytesName})`));
        return;
      }
      hmac?.update(chunk);
      parts.push(chunk);
    };
    const onEnd = (): void => stop();
    const onCutShort = (error?: Error): void =>
      stop(new HttpRefusal(400, `the body was cut short${error === undefined ? '' : `: ${error.message}`}`));
    const onClose = (): void => {
      if (!request.complete) onCutShort();
    };
    const deadline = setTimeout(
      () =>
        stop(
          new HttpRefusal(
            408,
            `the body did not arrive within ${timeoutMs} ms (${timeoutName}); ${size} bytes came`,
          ),
        ),
      timeoutMs,
    );
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onCutShort);
    request.once('close', onClose);
  });
  if (signature !== undefined && hmac !== undefined) {
    if (!timingSafeEqual(hmac.digest(), signature.digest)) {
      throw new HttpRefusal(401, `${signature.header} does not match the body`);
    }
  }
  return parts.length === 1 && parts[0] !== undefined ? parts[0] : Buffer.concat(parts, size);
}

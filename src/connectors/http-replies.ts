/**
 * Answers of the webhook source and the sidecar's HTTP endpoint: a JSON body, and refusals that say
 * what is wrong. A refusal made before the request's body was read (or while it was still coming)
 * closes the connection after the answer, so the rest of the body is neither read nor kept: an
 * unauthenticated or oversized upload costs the server its headers, not its body. A client that
 * asks first (`Expect: 100-continue`, as curl does for larger bodies) is told to send its body only
 * once its request was admitted, so a refused one never sends it at all.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { AuthError } from '../errors.js';

/** A request refused with an HTTP status (and, for 429 and 503, a `Retry-After`; never for 502). */
export class HttpRefusal extends Error {
  override readonly name = 'HttpRefusal';

  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
    readonly headers: OutgoingHttpHeaders = {},
  ) {
    super(message);
  }
}

/**
 * The answer to requests whose producer the broker refused at its handshake (401 or 403: this
 * process's own credentials may not write the topic): 502, the upstream refused, without
 * `Retry-After`, because retrying changes nothing until an operator fixes the token or the grants.
 * The message is the refusal's (the broker's URL without any token, and the broker's reason).
 * @returns undefined for any other failure (those are answered 503 + `Retry-After`).
 */
export function upstreamRefusal(error: unknown): HttpRefusal | undefined {
  // The refusal itself, or what it caused (a few links deep at most).
  let cause = error;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++, cause = cause.cause) {
    if (cause instanceof AuthError) {
      return new HttpRefusal(502, `the broker refused this server's producer: ${cause.message}`);
    }
  }
  return undefined;
}

export function replyJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  retryAfterSeconds?: number,
  headers: OutgoingHttpHeaders = {},
): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
  });
  response.end(`${JSON.stringify(body)}\n`);
}

/**
 * Answers `refusal`. When the request's body was not read to its end, the answer says
 * `Connection: close` and Node closes the connection once it is sent, without reading the rest.
 */
export function refuse(request: IncomingMessage, response: ServerResponse, refusal: HttpRefusal): void {
  const unread = !request.complete;
  replyJson(response, refusal.status, { error: refusal.message }, refusal.retryAfterSeconds, {
    ...refusal.headers,
    ...(unread ? { connection: 'close' } : {}),
  });
}

/** Tells a client waiting with `Expect: 100-continue` to send its body (the request was admitted). */
export function continueIfExpected(request: IncomingMessage, response: ServerResponse): void {
  if (/100-continue/i.test(request.headers.expect ?? '') && !response.headersSent) response.writeContinue();
}

/**
 * How long a request may take to arrive, for the webhook source and the sidecar's HTTP endpoint.
 * The body has a deadline of its own once its request is handled (`readRequestBody`: 408, the
 * connection closed), so a client trickling a body cannot hold one of the requests handled at once
 * for minutes. Node's own timers are set around it: the head must arrive within
 * `HEADERS_TIMEOUT_MS` (Node's default is 60 s), and the whole request (head, a wait in the
 * webhook's queue for a slot, body) within `requestTimeoutMs()`, a backstop Node answers 408 itself
 * (it checks every 30 s; Node's default is 5 minutes).
 */
import type { Server } from 'node:http';

/** The head of a request (request line and headers) must arrive whole within this. */
export const HEADERS_TIMEOUT_MS = 10_000;

/** The default time a request's body may take to arrive once the request is handled. */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;

/** What a request may spend waiting in the webhook's queue for a slot before Node times it out. */
const QUEUE_WAIT_MS = 30_000;

/** Node's bound on a whole request: after the head's and the body's own, never before them. */
export function requestTimeoutMs(bodyTimeoutMs: number): number {
  return HEADERS_TIMEOUT_MS + QUEUE_WAIT_MS + bodyTimeoutMs;
}

/** Sets `server`'s head and whole-request timeouts for bodies read within `bodyTimeoutMs`. */
export function boundRequestTimes(server: Server, bodyTimeoutMs: number): void {
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = requestTimeoutMs(bodyTimeoutMs);
}

/**
 * One admin REST GET, bounded: each attempt (token, connection, answer and body) within
 * `requestTimeoutMs`, a body of at most `MAX_ADMIN_BODY_BYTES`, and retryable failures (no
 * connection, a timeout, HTTP 5xx or 429) retried with the session's backoff for at most
 * `retryTimeoutMs` in all. These calls run while a stream is being constructed, so an admin endpoint
 * that never answers must fail the stream in bounded time instead of hanging it.
 */
import type { IncomingMessage } from 'node:http';
import {
  AbortError,
  AuthError,
  ConnectError,
  InvalidArgumentError,
  TimeoutError,
  type PulsarWsError,
} from '../errors.js';
import { backoffDelay, resolveBackoffOptions, type BackoffOptions } from './backoff.js';
import { safeUrl } from './safe-url.js';
import type { TlsOptions } from './session-options.js';
import { currentToken, type TokenOptions } from './token.js';

/** The largest admin answer read (a namespace's topic list is the big one): 4 MiB. */
export const MAX_ADMIN_BODY_BYTES = 4 * 1024 * 1024;

/** The token (or token file, read again for each call), TLS and time bounds of the admin calls. */
export interface AdminOptions extends TokenOptions {
  readonly tls?: TlsOptions;
  /** One attempt, token and body included, in ms (the client's `handshakeTimeoutMs`). @default 10000 */
  readonly requestTimeoutMs?: number;
  /** All attempts together, in ms; `Infinity` allowed (the client's `connectTimeoutMs`). @default 30000 */
  readonly retryTimeoutMs?: number;
  /** Delays between attempts (the client's `reconnect`); `false`: one attempt only. */
  readonly backoff?: BackoffOptions | false;
  /** Aborting it ends the call (and any wait between attempts) with an `AbortError`. */
  readonly signal?: AbortSignal;
}

/** A refused admin call: its HTTP status, and the `reason` of Pulsar's JSON error body when there is one. */
export class AdminHttpError extends ConnectError {
  override name = 'AdminHttpError';
  constructor(
    message: string,
    status: number,
    /** Pulsar's `{"reason": "…"}`; undefined when the body was not that JSON (a proxy's page). */
    readonly reason: string | undefined,
    options: { readonly retryable: boolean },
  ) {
    super(message, status, options);
  }
}

/** An attempt shorter than this would time out and hide the real failure: the retries stop instead. */
const MIN_ATTEMPT_MS = 50;

/**
 * GETs `url` and parses its JSON answer, retrying what can change.
 * @throws AdminHttpError (an HTTP error answer), AuthError (401/403), ConnectError (no connection, a
 * body too large or not JSON; after retries, one saying how long it tried), TimeoutError, AbortError.
 */
export async function getJson(url: URL, options: AdminOptions): Promise<unknown> {
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const retryTimeoutMs = options.retryTimeoutMs ?? 30_000;
  const backoff = options.backoff === false ? undefined : resolveBackoffOptions(options.backoff ?? {});
  const started = Date.now();
  const deadline = started + retryTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await getJsonOnce(url, options, Math.min(requestTimeoutMs, deadline - Date.now()));
    } catch (error) {
      const failure = error as PulsarWsError;
      if (!failure.retryable || backoff === undefined || options.signal?.aborted === true) throw failure;
      const delay = backoffDelay(backoff, attempt);
      const left = deadline - Date.now();
      if (delay === undefined || left - delay < MIN_ATTEMPT_MS) {
        throw gaveUp(url, failure, attempt + 1, started, delay === undefined ? undefined : retryTimeoutMs);
      }
      await sleep(delay, options.signal);
    }
  }
}

function gaveUp(
  url: URL,
  last: PulsarWsError,
  attempts: number,
  started: number,
  retryTimeoutMs: number | undefined,
): ConnectError {
  const bound = retryTimeoutMs === undefined ? '' : ` within ${retryTimeoutMs} ms`;
  return new ConnectError(
    `the admin API at ${safeUrl(url.toString())} did not answer${bound} ` +
      `(${attempts} attempt${attempts === 1 ? '' : 's'} in ${Date.now() - started} ms); last error: ${last.message}`,
    last instanceof ConnectError ? last.status : undefined,
    { cause: last },
  );
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new AbortError('the admin call was aborted'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError('the admin call was aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** One attempt, bounded by `timeoutMs` from asking for the token to the end of the body. */
async function getJsonOnce(url: URL, options: AdminOptions, timeoutMs: number): Promise<unknown> {
  const started = Date.now();
  const token = await currentToken(options, timeoutMs);
  if (options.signal?.aborted === true) throw new AbortError('the admin call was aborted');
  const left = Math.max(1, timeoutMs - (Date.now() - started));
  // Taken as built-ins, not imported: an ES import of `node:http` loads Node's fetch implementation
  // (undici, and http2 with it) with its exports, 30-40 ms of CPU at the start of every process
  // that consumes, for a module that makes an admin call now and then.
  const { request } = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http');
  const headers = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  const where = safeUrl(url.toString());
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      action();
    };
    const fail = (error: PulsarWsError): void =>
      settle(() => {
        reject(error);
        req.destroy();
      });
    const onAbort = (): void => fail(new AbortError('the admin call was aborted'));
    const req = request(url, { method: 'GET', headers, ...(options.tls ?? {}) }, (response) => {
      readBody(response, where).then(
        (body) => settle(() => answer(response.statusCode ?? 0, body, where, resolve, reject)),
        (error: unknown) => fail(error as PulsarWsError),
      );
    });
    const timer = setTimeout(() => fail(new TimeoutError(`${where} did not answer within ${left} ms`)), left);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error) =>
      fail(new ConnectError(`cannot reach ${where}: ${error.message}`, undefined, { cause: error })),
    );
    req.end();
  });
}

/** The body, up to `MAX_ADMIN_BODY_BYTES`. @throws ConnectError past the bound or when the answer breaks off */
function readBody(response: IncomingMessage, where: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): ConnectError =>
      new ConnectError(
        `${where} answered with a body over ${MAX_ADMIN_BODY_BYTES} bytes (the most an admin answer may be)`,
        response.statusCode,
        { retryable: false },
      );
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_ADMIN_BODY_BYTES) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    response.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_ADMIN_BODY_BYTES) {
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    response.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.once('error', (error) =>
      reject(
        new ConnectError(`the answer of ${where} broke off: ${error.message}`, undefined, { cause: error }),
      ),
    );
  });
}

function answer(
  status: number,
  body: string,
  where: string,
  resolve: (value: unknown) => void,
  reject: (error: PulsarWsError) => void,
): void {
  if (status !== 200) {
    reject(refusal(status, body, where));
    return;
  }
  try {
    resolve(JSON.parse(body));
  } catch (error) {
    reject(
      new ConnectError(`${where} answered with a body that is not JSON`, 200, {
        cause: error,
        retryable: false,
      }),
    );
  }
}

/** Pulsar's `{"reason": "…"}` of an error answer, if the body is that. */
function reasonOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { reason?: unknown } | null;
    return typeof parsed?.reason === 'string' ? parsed.reason : undefined;
  } catch {
    return undefined;
  }
}

/** The error of a non-200 answer: retryable when it can change (5xx, 429, 408). */
function refusal(status: number, body: string, where: string): PulsarWsError {
  const reason = reasonOf(body);
  // Not JSON (a proxy's or Jetty's page): the page's title or the start of the body says most.
  const shown = reason ?? (/<title>(.*?)<\/title>/s.exec(body)?.[1] ?? body.slice(0, 200)).trim();
  const detail = shown === '' ? '' : `: ${shown}`;
  if (status === 401 || status === 403) {
    return new AuthError(
      `${status === 401 ? 'authentication' : 'authorization'} failed for ${where}${detail}`,
      status,
    );
  }
  if (status === 400) return new InvalidArgumentError(`${where} refused the request${detail}`);
  const retryable = status >= 500 || status === 429 || status === 408;
  return new AdminHttpError(`${where} answered HTTP ${status}${detail}`, status, reason, { retryable });
}

/**
 * Whether `error` is Pulsar's own answer for a topic that does not exist: a 404 with a JSON
 * `reason` such as `Topic persistent://public/default/t not found`. A 404 from anything else (a
 * WebSocket service run without the admin API, a proxy that does not forward `/admin/v2`) is not.
 */
export function isTopicNotFound(error: unknown): boolean {
  return (
    error instanceof AdminHttpError &&
    error.status === 404 &&
    error.reason !== undefined &&
    /^topic .+ (not found|does not exist)$/i.test(error.reason)
  );
}

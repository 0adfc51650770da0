/**
 * The client's settings: what `new PulsarWsClient(options)` takes and checks, and what every stream
 * factory gets from the client (a session maker, and the admin API's token and TLS).
 */
import type { Logger } from 'pino';
import type { AdminOptions } from '../client/admin.js';
import { resolveSessionTimings, type SessionOptions, type WsSession } from '../client/session.js';
import { checkTokenOptions } from '../client/token.js';
import { InvalidArgumentError } from '../errors.js';
import type { ClientSideEncryption } from './encryption-streams.js';

/**
 * The session options shared by every stream of the client: token (a string, a function, or a
 * `tokenFile` read again at every connection attempt), TLS, liveness (`pingIntervalMs`,
 * `pongTimeoutMs`), time bounds (`handshakeTimeoutMs`, `connectTimeoutMs`) and reconnection.
 */
export interface PulsarWsClientOptions extends Omit<SessionOptions, 'url' | 'logger'> {
  /** The WebSocket service, e.g. `ws://localhost:8080` or `wss://host:8443` (a path prefix is kept). */
  readonly url: string;
  /** A pino logger; each stream logs through a child (`component`, `topic`). @default silent */
  readonly logger?: Logger;
}

/** Options every stream takes. */
export interface StreamLifecycleOptions {
  /** Aborting it destroys the stream with an `AbortError` (a consumer then settles as on a clean stop). */
  readonly signal?: AbortSignal;
}

/** What a stream factory needs of the client. */
export interface ClientContext {
  /** The WebSocket service URL (`PulsarWsClientOptions.url`). */
  readonly serviceUrl: string;
  /** The token and TLS for admin calls on the service's host (the sessions' own). */
  readonly admin: AdminOptions;
  readonly logger: Logger;
  /**
   * A new session with the client's connection settings (throws `ClosedError` once the client is
   * closed); with `encryption`, one that encrypts payloads client-side.
   */
  session(
    component: string,
    topic: string,
    url: string | (() => string),
    encryption?: ClientSideEncryption,
  ): WsSession;
}

/**
 * Checks the options when the client is made, so that a bad URL, token setting or timing fails
 * there rather than when a stream connects.
 */
export function resolveClientOptions(options: PulsarWsClientOptions): PulsarWsClientOptions {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new InvalidArgumentError(
      `expected \`url\` to be a ws:// or wss:// URL, got ${JSON.stringify(options.url)}`,
    );
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new InvalidArgumentError(
      `expected \`url\` to be a ws:// or wss:// URL, got ${JSON.stringify(options.url)}`,
    );
  }
  if (options.tokenTransport !== undefined && !['header', 'query'].includes(options.tokenTransport)) {
    throw new InvalidArgumentError(
      `expected \`tokenTransport\` to be 'header' or 'query', got ${JSON.stringify(options.tokenTransport)}`,
    );
  }
  checkTokenOptions(options);
  resolveSessionTimings(options);
  return options;
}

/**
 * The admin API's options from the client's: the same token (or token file) and TLS as the
 * sessions, each attempt bounded by `handshakeTimeoutMs`, retried with the `reconnect` backoff
 * within `connectTimeoutMs`.
 */
export function adminOptionsOf(options: PulsarWsClientOptions): AdminOptions {
  const { token, tokenFile, tls, reconnect } = options;
  const { handshakeTimeoutMs, connectTimeoutMs } = resolveSessionTimings(options);
  return {
    ...(token === undefined ? {} : { token }),
    ...(tokenFile === undefined ? {} : { tokenFile }),
    ...(tls === undefined ? {} : { tls }),
    requestTimeoutMs: handshakeTimeoutMs,
    retryTimeoutMs: connectTimeoutMs,
    ...(reconnect === undefined ? {} : { backoff: reconnect }),
  };
}

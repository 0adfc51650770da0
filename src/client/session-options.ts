/**
 * The options of one WebSocket session (token or token file, TLS, liveness, time bounds, reconnection) and their
 * resolver, which checks every timing before anything connects.
 */
import type { Logger } from 'pino';
import type { BackoffOptions } from './backoff.js';
import { checkDuration } from './duration.js';
import type { TokenOptions } from './token.js';

export interface TlsOptions {
  /** Trusted CA certificates (PEM). */
  readonly ca?: string | Buffer;
  /** Client certificate and key (PEM), for servers that require them. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** @default true */
  readonly rejectUnauthorized?: boolean;
}

export interface SessionOptions extends TokenOptions {
  /**
   * The endpoint URL with its query parameters (not the token); a function is called before every
   * connection attempt, for streams whose resume point moves (a reader's start, a producer's sequence).
   */
  readonly url: string | (() => string);
  /** `header`: `Authorization: Bearer`; `query`: the `token` parameter (browsers' way). @default 'header' */
  readonly tokenTransport?: 'header' | 'query';
  readonly tls?: TlsOptions;
  /**
   * Time between client pings, in ms. Pings keep idle sessions open (servers close them after
   * `webSocketSessionIdleTimeoutMillis`, 5 min by default; keep this well under it) and prove the
   * path alive; 0 disables both the pings and silent-path detection. @default 5000
   */
  readonly pingIntervalMs?: number;
  /**
   * Time a ping may go unanswered, in ms: when neither a pong nor any frame arrived within it, the
   * connection is taken as lost (terminated, then reconnected). A silent path is noticed within
   * `pingIntervalMs + pongTimeoutMs` (15 s with the defaults). @default 10000
   */
  readonly pongTimeoutMs?: number;
  /** Time one opening handshake may take (TCP, TLS and the HTTP upgrade), in ms. @default 10000 */
  readonly handshakeTimeoutMs?: number;
  /**
   * Total time the first connection may take, retries included, in ms; then connecting fails with a
   * `ConnectError` carrying the last attempt's error. `Infinity` retries for as long as `reconnect`
   * allows. Reconnects of a session that was connected are not bounded by it. @default 30000
   */
  readonly connectTimeoutMs?: number;
  /** Reconnection after a lost connection; `false` disables it. */
  readonly reconnect?: BackoffOptions | false;
  readonly logger?: Logger;
}

/** The resolved timing options of a session, all in ms. */
export interface SessionTimings {
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/** Checks and defaults the session's timing options. @throws InvalidArgumentError */
export function resolveSessionTimings(options: Partial<SessionTimings>): SessionTimings {
  return {
    pingIntervalMs: checkDuration('pingIntervalMs', options.pingIntervalMs ?? 5_000, { zero: true }),
    pongTimeoutMs: checkDuration('pongTimeoutMs', options.pongTimeoutMs ?? 10_000),
    handshakeTimeoutMs: checkDuration('handshakeTimeoutMs', options.handshakeTimeoutMs ?? 10_000),
    connectTimeoutMs: checkDuration('connectTimeoutMs', options.connectTimeoutMs ?? 30_000, {
      infinite: true,
    }),
  };
}

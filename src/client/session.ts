/**
 * One WebSocket session to one endpoint (a producer, consumer or reader), with what every stream
 * needs underneath: token authentication (header or query), TLS options, keepalive pings, refused
 * handshakes mapped to typed errors, and reconnection with full-jitter backoff after a connection
 * that was up is lost. Every state change is an event and a log line; nothing happens silently.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { pino } from 'pino';
import WebSocket from 'ws';
import { ClosedError, ConnectError, handshakeError, PulsarWsError } from '../errors.js';
import { backoffDelay, resolveBackoffOptions, type BackoffOptions, type ResolvedBackoff } from './backoff.js';
import { safeUrl } from './safe-url.js';

export type SessionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface TlsOptions {
  /** Trusted CA certificates (PEM). */
  readonly ca?: string | Buffer;
  /** Client certificate and key (PEM), for servers that require them. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** @default true */
  readonly rejectUnauthorized?: boolean;
}

export interface SessionOptions {
  /**
   * The endpoint URL with its query parameters (not the token); a function is called before every
   * connection attempt, for streams whose resume point moves (a reader's start, a producer's sequence).
   */
  readonly url: string | (() => string);
  /** JWT for token authentication. */
  readonly token?: string;
  /** `header`: `Authorization: Bearer`; `query`: the `token` parameter (browsers' way). @default 'header' */
  readonly tokenTransport?: 'header' | 'query';
  readonly tls?: TlsOptions;
  /** Client pings keep idle sessions open (servers close them after 5 min); 0 disables. @default 30000 */
  readonly pingIntervalMs?: number;
  /** Reconnection after a lost connection; `false` disables it. */
  readonly reconnect?: BackoffOptions | false;
  readonly logger?: Logger;
}

interface SessionEvents {
  /** A state change, with the error that caused it when there is one. */
  state: [state: SessionState, error?: PulsarWsError];
  /** A text frame from the server. */
  message: [text: string];
}

export class WsSession extends EventEmitter<SessionEvents> {
  private ws: WebSocket | undefined;
  private currentState: SessionState = 'connecting';
  private readonly backoff: ResolvedBackoff | undefined;
  private readonly logger: Logger;
  private pingTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Ends a backoff wait early (close() during a retry wait). */
  private wakeRetry: (() => void) | undefined;
  private closing = false;
  private connections = 0;

  constructor(private readonly options: SessionOptions) {
    super();
    this.backoff = options.reconnect === false ? undefined : resolveBackoffOptions(options.reconnect ?? {});
    // The caller's logger names the component (producer, consumer, reader); the session adds its URL.
    this.logger = (options.logger ?? pino({ enabled: false })).child({ url: safeUrl(this.endpointUrl()) });
  }

  get state(): SessionState {
    return this.currentState;
  }

  /** True once close() was called. */
  get closedOnPurpose(): boolean {
    return this.closing;
  }

  /**
   * Counts connections: 1 for the first, +1 per reconnect. It changes before the new connection's
   * first frame is emitted (a frame may arrive in the same packet as the handshake answer, before
   * the `connected` event), so per-connection bookkeeping keys on it.
   */
  get connectionId(): number {
    return this.connections;
  }

  private setState(state: SessionState, error?: PulsarWsError): void {
    this.currentState = state;
    const level = error === undefined ? 'info' : 'warn';
    this.logger[level](
      { state, ...(error === undefined ? {} : { code: error.code, err: error }) },
      `session ${state}`,
    );
    this.emit('state', state, error);
  }

  /**
   * Opens the session. Retryable failures are retried with backoff (when reconnection is on); a
   * refusal that cannot change (401/403, 400, 404) rejects at once.
   */
  async connect(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.open();
        this.setState('connected');
        return;
      } catch (error) {
        if (this.closing) {
          // Closed on purpose while connecting: not a failure of the session.
          if (this.currentState !== 'closed') this.setState('closed');
          throw new ClosedError('the session was closed while connecting');
        }
        const failure = error as PulsarWsError;
        const delay = this.retryDelay(failure, attempt);
        if (delay === undefined) {
          this.setState('closed', failure);
          throw failure;
        }
        this.logger.warn(
          { attempt, delay, code: failure.code, reason: failure.message },
          `connect failed; retrying in ${delay} ms`,
        );
        await new Promise<void>((resolve) => {
          this.wakeRetry = resolve;
          this.retryTimer = setTimeout(resolve, delay);
        });
        this.wakeRetry = undefined;
      }
    }
  }

  private retryDelay(error: PulsarWsError, attempt: number): number | undefined {
    if (this.closing || !error.retryable || this.backoff === undefined) return undefined;
    return backoffDelay(this.backoff, attempt);
  }

  private endpointUrl(): string {
    const { url } = this.options;
    return typeof url === 'string' ? url : url();
  }

  private url(endpoint: string): string {
    const { token, tokenTransport = 'header' } = this.options;
    if (token === undefined || tokenTransport === 'header') return endpoint;
    const url = new URL(endpoint);
    url.searchParams.set('token', token);
    return url.toString();
  }

  private open(): Promise<void> {
    if (this.closing) return Promise.reject(new ClosedError('the session was closed'));
    const { token, tokenTransport = 'header', tls } = this.options;
    const endpoint = this.endpointUrl();
    const ws = new WebSocket(this.url(endpoint), {
      perMessageDeflate: false,
      ...(token !== undefined && tokenTransport === 'header'
        ? { headers: { Authorization: `Bearer ${token}` } }
        : {}),
      ...(tls === undefined ? {} : tls),
    });
    return new Promise<void>((resolve, reject) => {
      ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => {
          const title = /<title>(?:Error \d+ )?(.*?)<\/title>/s.exec(body)?.[1] ?? body.slice(0, 200);
          reject(handshakeError(response.statusCode ?? 0, title.trim(), safeUrl(endpoint)));
        });
      });
      ws.once('error', (error) =>
        reject(
          new ConnectError(`cannot connect to ${safeUrl(endpoint)}: ${error.message}`, undefined, {
            cause: error,
          }),
        ),
      );
      ws.once('open', () => {
        ws.removeAllListeners('error');
        if (this.closing) {
          // close() was called while this connection was being opened: it must not outlive it.
          ws.close(1000);
          reject(new ClosedError('the session was closed'));
          return;
        }
        this.attach(ws);
        resolve();
      });
    });
  }

  private attach(ws: WebSocket): void {
    this.ws = ws;
    this.connections += 1;
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) this.emit('message', data.toString('utf8'));
    });
    ws.on('error', (error) => this.logger.debug({ err: error }, 'socket error'));
    ws.once('close', (code, reason) => this.onClose(ws, code, reason.toString()));
    const interval = this.options.pingIntervalMs ?? 30_000;
    if (interval > 0) this.pingTimer = setInterval(() => ws.ping(), interval);
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    clearInterval(this.pingTimer);
    if (this.ws === ws) this.ws = undefined;
    if (this.closing) {
      this.setState('closed');
      return;
    }
    const lost = new ConnectError(`connection lost (close ${code}${reason === '' ? '' : ` ${reason}`})`);
    if (this.backoff === undefined) {
      this.setState('closed', lost);
      return;
    }
    this.setState('reconnecting', lost);
    this.connect().catch(() => {
      // connect() already moved to 'closed' with the error and logged it.
    });
  }

  /** Sends a text frame; false when there is no open connection (the caller keeps the frame). */
  send(text: string): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(text);
    return true;
  }

  /** Closes for good: no reconnection; resolves once the socket is closed. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    clearInterval(this.pingTimer);
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) {
      if (this.currentState !== 'closed') this.setState('closed');
      return;
    }
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000);
    });
  }
}

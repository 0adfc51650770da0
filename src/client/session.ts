/**
 * One WebSocket session to one endpoint (a producer, consumer or reader), with what every stream
 * needs underneath: token authentication (header or query; the token, or its file, asked for again
 * at every connection attempt), TLS options, a heartbeat that drops a connection gone silent,
 * refused handshakes mapped to typed errors (their sockets released), time bounds on each handshake
 * and on the first connection, and reconnection with full-jitter backoff after a connection that was
 * up is lost. Every state change is an event and a log line; nothing happens silently, and nothing
 * waits for ever.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { pino } from 'pino';
import WebSocket from 'ws';
import { ClosedError, ConnectError, PulsarWsError, TimeoutError } from '../errors.js';
import { batchWritesOn, corkForThisTick } from '../net/write-batching.js';
import { backoffDelay, resolveBackoffOptions, type ResolvedBackoff } from './backoff.js';
import { readRefusal } from './handshake-refusal.js';
import { Heartbeat } from './heartbeat.js';
import { safeUrl } from './safe-url.js';
import { currentToken } from './token.js';
import { resolveSessionTimings, type SessionOptions, type SessionTimings } from './session-options.js';
import type { SessionState, StreamSession } from './stream-session.js';

export type { SessionState } from './stream-session.js';

export {
  resolveSessionTimings,
  type SessionOptions,
  type SessionTimings,
  type TlsOptions,
} from './session-options.js';

/** How long a graceful close waits for the server's close frame before dropping the socket. */
const CLOSE_HANDSHAKE_TIMEOUT_MS = 2_000;
/** A connection lost sooner than this after it opened counts as a flap: the next reconnect backs off. */
const FLAP_WINDOW_MS = 5_000;
/** The least time worth a connection attempt before the first-connect bound. */
const MIN_ATTEMPT_MS = 100;

interface SessionEvents {
  /** A state change, with the error that caused it when there is one. */
  state: [state: SessionState, error?: PulsarWsError];
  /** A text frame from the server. */
  message: [text: string];
}

export class WsSession extends EventEmitter<SessionEvents> implements StreamSession {
  private ws: WebSocket | undefined;
  /** The socket of the handshake in progress, so that close() can abort it. */
  private opening: WebSocket | undefined;
  private currentState: SessionState = 'connecting';
  private readonly backoff: ResolvedBackoff | undefined;
  private readonly timings: SessionTimings;
  private readonly logger: Logger;
  private heartbeat: Heartbeat | undefined;
  /** Set when the heartbeat dropped the connection, so the close is reported as a silent path. */
  private silentClose = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Ends a backoff wait early (close() during a retry wait). */
  private wakeRetry: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private connections = 0;
  private connectedAt = 0;
  /** Connections in a row lost within FLAP_WINDOW_MS of opening. */
  private flaps = 0;

  constructor(private readonly options: SessionOptions) {
    super();
    this.backoff = options.reconnect === false ? undefined : resolveBackoffOptions(options.reconnect ?? {});
    this.timings = resolveSessionTimings(options);
    // The caller's logger names the component (producer, consumer, reader); the session adds its URL.
    this.logger = (options.logger ?? pino({ enabled: false })).child({ url: safeUrl(this.endpointUrl()) });
  }

  get state(): SessionState {
    return this.currentState;
  }

  /** True once close() was called. */
  get closedOnPurpose(): boolean {
    return this.closing !== undefined;
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
    // The code and message say what happened; a stack trace of an expected network event is noise
    // (and operators read these lines).
    this.logger[level](
      { state, ...(error === undefined ? {} : { code: error.code, reason: error.message }) },
      `session ${state}`,
    );
    this.emit('state', state, error);
  }

  /**
   * Opens the session. Retryable failures are retried with backoff (when reconnection is on); a
   * refusal that cannot change (401/403, 400, 404) rejects at once. The first connection is bounded
   * by `connectTimeoutMs` in total; reconnects of a session that was connected are not.
   */
  async connect(): Promise<void> {
    await this.connectFrom(0);
  }

  /**
   * The connection loop. `firstAttempt` > 0 continues the backoff of a connection that just flapped
   * (lost soon after it opened), so a server that accepts and drops at once is not hammered.
   */
  private async connectFrom(firstAttempt: number): Promise<void> {
    const started = Date.now();
    const deadline = this.connections === 0 ? started + this.timings.connectTimeoutMs : Infinity;
    if (firstAttempt > 0 && this.backoff !== undefined) {
      await this.waitBeforeRetry(backoffDelay(this.backoff, firstAttempt - 1) ?? 0);
      if (this.closedOnPurpose) throw this.closedWhileConnecting();
    }
    for (let attempt = firstAttempt; ; attempt++) {
      try {
        // open() moves to 'connected' itself, in the same tick the socket opens.
        await this.open(Math.min(this.timings.handshakeTimeoutMs, deadline - Date.now()));
        return;
      } catch (error) {
        if (this.closedOnPurpose) throw this.closedWhileConnecting();
        const failure = error as PulsarWsError;
        const tried = attempt - firstAttempt + 1;
        let delay = this.retryDelay(failure, attempt);
        if (delay === undefined) {
          // A refusal that cannot change is final as it is; a retryable failure that is not retried
          // (reconnection off, attempts used up) says that it gave up.
          if (!failure.retryable) {
            this.setState('closed', failure);
            throw failure;
          }
          throw this.gaveUp(failure, `after ${tried} attempt${tried === 1 ? '' : 's'}`, started);
        }
        const left = deadline - Date.now();
        if (left < MIN_ATTEMPT_MS)
          throw this.gaveUp(failure, `within ${this.timings.connectTimeoutMs} ms`, started, tried);
        delay = Math.min(delay, left);
        this.logger.warn(
          { attempt, delay, code: failure.code, reason: failure.message },
          `connect failed; retrying in ${delay} ms`,
        );
        await this.waitBeforeRetry(delay);
        if (this.closedOnPurpose) throw this.closedWhileConnecting();
        // An attempt with only a sliver of the bound left would time out and hide the real failure.
        if (deadline - Date.now() < MIN_ATTEMPT_MS) {
          throw this.gaveUp(failure, `within ${this.timings.connectTimeoutMs} ms`, started, tried);
        }
      }
    }
  }

  /** A backoff wait that close() ends early. */
  private async waitBeforeRetry(delay: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wakeRetry = resolve;
      this.retryTimer = setTimeout(resolve, delay);
    });
    this.wakeRetry = undefined;
  }

  private closedWhileConnecting(): ClosedError {
    // Closed on purpose while connecting: not a failure of the session.
    if (this.currentState !== 'closed') this.setState('closed');
    return new ClosedError('the session was closed while connecting');
  }

  private gaveUp(last: PulsarWsError, bound: string, started: number, attempts?: number): ConnectError {
    const tried = attempts === undefined ? '' : `${attempts} attempt${attempts === 1 ? '' : 's'} in `;
    const error = new ConnectError(
      `could not connect to ${safeUrl(this.endpointUrl())} ${bound} ` +
        `(${tried}${Date.now() - started} ms); last error: ${last.message}`,
      last instanceof ConnectError ? last.status : undefined,
      { cause: last },
    );
    this.setState('closed', error);
    return error;
  }

  private retryDelay(error: PulsarWsError, attempt: number): number | undefined {
    if (this.closedOnPurpose || !error.retryable || this.backoff === undefined) return undefined;
    return backoffDelay(this.backoff, attempt);
  }

  private endpointUrl(): string {
    const { url } = this.options;
    return typeof url === 'string' ? url : url();
  }

  private url(endpoint: string, token: string | undefined): string {
    const { tokenTransport = 'header' } = this.options;
    if (token === undefined || tokenTransport === 'header') return endpoint;
    const url = new URL(endpoint);
    url.searchParams.set('token', token);
    return url.toString();
  }

  /**
   * One connection attempt, bounded by `timeoutMs`: the token is asked for first (a token file is
   * read again, so a rotated token is used from the next connection on), then the socket opens.
   */
  private async open(timeoutMs: number): Promise<void> {
    if (this.closedOnPurpose) throw new ClosedError('the session was closed');
    const started = Date.now();
    const token = await currentToken(this.options, timeoutMs);
    if (this.closedOnPurpose) throw new ClosedError('the session was closed');
    await this.openSocket(token, Math.max(1, timeoutMs - (Date.now() - started)));
  }

  /**
   * Opens the socket, bounded by `timeoutMs`. Every way out releases the socket: a refused
   * handshake's response is read (bounded) and its request destroyed, a timeout terminates it.
   */
  private openSocket(token: string | undefined, timeoutMs: number): Promise<void> {
    const { tokenTransport = 'header', tls } = this.options;
    const endpoint = this.endpointUrl();
    const ws = new WebSocket(this.url(endpoint, token), {
      perMessageDeflate: false,
      ...(token !== undefined && tokenTransport === 'header'
        ? { headers: { Authorization: `Bearer ${token}` } }
        : {}),
      ...(tls === undefined ? {} : tls),
    });
    this.opening = ws;
    ws.once('upgrade', (response) => batchWritesOn(ws, response.socket));
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: PulsarWsError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.opening = undefined;
        if (error === undefined) {
          resolve();
          return;
        }
        // Idempotent; releases the request and its socket whatever state the handshake is in.
        ws.terminate();
        reject(error);
      };
      const timer = setTimeout(
        () =>
          settle(
            new TimeoutError(
              `the handshake with ${safeUrl(endpoint)} did not complete within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      ws.once('unexpected-response', (_request, response) => {
        void readRefusal(response, safeUrl(endpoint)).then(settle);
      });
      // `on`, not `once`: a terminated handshake emits a second 'error', which must not go unheard.
      ws.on('error', (error) =>
        settle(
          new ConnectError(`cannot connect to ${safeUrl(endpoint)}: ${error.message}`, undefined, {
            cause: error,
          }),
        ),
      );
      ws.once('open', () => {
        if (this.closedOnPurpose) {
          // close() was called while this connection was being opened: it must not outlive it.
          settle(new ClosedError('the session was closed'));
          return;
        }
        ws.removeAllListeners('error');
        this.attach(ws);
        // 'connected' in the same tick as the socket opens: a send() that works must never come
        // before it (a producer would send a message, then resend it on 'connected').
        this.setState('connected');
        settle();
      });
    });
  }

  private attach(ws: WebSocket): void {
    this.ws = ws;
    this.connections += 1;
    this.connectedAt = Date.now();
    const heartbeat = new Heartbeat(
      { intervalMs: this.timings.pingIntervalMs, timeoutMs: this.timings.pongTimeoutMs },
      () => ws.ping(),
      () => this.onSilent(ws),
    );
    this.heartbeat = heartbeat;
    ws.on('message', (data: Buffer, isBinary) => {
      heartbeat.heard();
      if (!isBinary) this.emit('message', data.toString('utf8'));
    });
    ws.on('pong', () => heartbeat.heard());
    ws.on('ping', () => heartbeat.heard());
    ws.on('error', (error) => this.logger.debug({ err: error }, 'socket error'));
    ws.once('close', (code, reason) => this.onClose(ws, code, reason.toString()));
    heartbeat.start();
  }

  /** Nothing came back within the deadline of a ping: the path is gone even if the socket is not. */
  private onSilent(ws: WebSocket): void {
    // A close handshake in progress ends by itself (ws bounds it); its own code is the better report.
    if (ws.readyState !== WebSocket.OPEN) return;
    this.logger.warn(
      { pingIntervalMs: this.timings.pingIntervalMs, pongTimeoutMs: this.timings.pongTimeoutMs },
      'connection silent: no pong or frame within the ping deadline; dropping it',
    );
    this.silentClose = true;
    ws.terminate();
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    this.heartbeat?.stop();
    const silent = this.silentClose;
    this.silentClose = false;
    if (this.ws === ws) this.ws = undefined;
    if (this.closedOnPurpose) {
      this.setState('closed');
      return;
    }
    const lost = silent
      ? new ConnectError(
          `connection silent: no pong or frame within ${this.timings.pongTimeoutMs} ms of a ping`,
        )
      : new ConnectError(`connection lost (close ${code}${reason === '' ? '' : ` ${reason}`})`);
    if (this.backoff === undefined) {
      this.setState('closed', lost);
      return;
    }
    // A connection lost soon after it opened continues the backoff instead of starting it over.
    this.flaps = Date.now() - this.connectedAt < FLAP_WINDOW_MS ? this.flaps + 1 : 0;
    this.setState('reconnecting', lost);
    this.connectFrom(this.flaps).catch(() => {
      // connect() already moved to 'closed' with the error and logged it; the streams listen for
      // that state.
    });
  }

  /** Sends a text frame; false when there is no open connection (the caller keeps the frame). */
  send(text: string): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    corkForThisTick(this.ws);
    this.ws.send(text);
    return true;
  }

  /**
   * Closes for good: no reconnection. Idempotent: every caller's promise resolves once the socket is
   * closed. A server that does not answer the close frame in time has its socket dropped.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    this.heartbeat?.stop();
    this.opening?.terminate();
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) {
      if (this.currentState !== 'closed') this.setState('closed');
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => ws.terminate(), CLOSE_HANDSHAKE_TIMEOUT_MS);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000);
    });
  }
}

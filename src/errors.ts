/**
 * The error taxonomy of pulsar-ws-streams. Every error the library raises is a `PulsarWsError` with a
 * stable `code` to match on (see docs/errors.md), a `retryable` flag, and the underlying `cause`.
 */

export type PulsarWsErrorCode =
  | 'PWS_ERR_INVALID_ARG'
  | 'PWS_ERR_CONNECT'
  | 'PWS_ERR_AUTH'
  | 'PWS_ERR_PROTOCOL'
  | 'PWS_ERR_SEND'
  | 'PWS_ERR_TIMEOUT'
  | 'PWS_ERR_CLOSED'
  | 'PWS_ERR_ABORTED'
  | 'PWS_ERR_CONNECTOR'
  | 'PWS_ERR_DECRYPT';

export interface PulsarWsErrorOptions extends ErrorOptions {
  readonly retryable?: boolean;
}

export class PulsarWsError extends Error {
  override name = 'PulsarWsError';
  readonly retryable: boolean;

  constructor(
    readonly code: PulsarWsErrorCode,
    message: string,
    options: PulsarWsErrorOptions = {},
  ) {
    super(message, options);
    this.retryable = options.retryable ?? false;
  }
}

/** A bad option or argument, found before anything was sent. */
export class InvalidArgumentError extends PulsarWsError {
  override name = 'InvalidArgumentError';
  constructor(message: string, options?: ErrorOptions) {
    super('PWS_ERR_INVALID_ARG', message, options);
  }
}

/** The WebSocket could not be opened or was lost; `status` is the HTTP status of a refused handshake. */
export class ConnectError extends PulsarWsError {
  override name = 'ConnectError';
  constructor(
    message: string,
    readonly status?: number,
    options: PulsarWsErrorOptions = {},
  ) {
    super('PWS_ERR_CONNECT', message, { retryable: true, ...options });
  }
}

/** The server refused the credentials (401) or the role's permissions (403). Never retried. */
export class AuthError extends PulsarWsError {
  override name = 'AuthError';
  constructor(
    message: string,
    readonly status: 401 | 403,
    options?: ErrorOptions,
  ) {
    super('PWS_ERR_AUTH', message, options);
  }
}

export interface ProtocolErrorOptions extends ErrorOptions {
  /** Which frame was wrong, e.g. `producer ack`, `consumer frame`. */
  readonly frameKind?: string;
  /** The offending field of that frame, when one is to blame. */
  readonly field?: string;
}

/** The server sent something the protocol does not allow, or closed the session for a bad frame. */
export class ProtocolError extends PulsarWsError {
  override name = 'ProtocolError';
  readonly frameKind: string | undefined;
  readonly field: string | undefined;
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    const { frameKind, field, ...errorOptions } = options;
    super('PWS_ERR_PROTOCOL', message, errorOptions);
    this.frameKind = frameKind;
    this.field = field;
  }
}

/** The server refused a message (`send-error:N`); carries the message's context and the server text. */
export class SendError extends PulsarWsError {
  override name = 'SendError';
  constructor(
    readonly result: string,
    readonly serverMessage: string | undefined,
    readonly context: string | undefined,
    options?: ErrorOptions,
  ) {
    super(
      'PWS_ERR_SEND',
      `server refused message ${context ?? '(no context)'}: ${result}${serverMessage === undefined ? '' : ` ${serverMessage}`}`,
      options,
    );
  }
}

export class TimeoutError extends PulsarWsError {
  override name = 'TimeoutError';
  constructor(message: string, options?: ErrorOptions) {
    super('PWS_ERR_TIMEOUT', message, { retryable: true, ...options });
  }
}

/** The client, producer, consumer or reader was closed. */
export class ClosedError extends PulsarWsError {
  override name = 'ClosedError';
  constructor(message: string, options?: ErrorOptions) {
    super('PWS_ERR_CLOSED', message, options);
  }
}

/** An operation was aborted through its AbortSignal. */
export class AbortError extends PulsarWsError {
  override name = 'AbortError';
  constructor(message = 'The operation was aborted', options?: ErrorOptions) {
    super('PWS_ERR_ABORTED', message, options);
  }
}

/** A connector (file, HTTP, S3, ...) failed; `connector` names it. */
export class ConnectorError extends PulsarWsError {
  override name = 'ConnectorError';
  constructor(
    readonly connector: string,
    message: string,
    options?: PulsarWsErrorOptions,
  ) {
    super('PWS_ERR_CONNECTOR', `${connector}: ${message}`, options);
  }
}

/**
 * An encrypted message could not be decrypted: no private key for any of `keyNames` (the names the
 * message was encrypted for), a key that does not fit, or a damaged payload. Never retried.
 */
export class DecryptionError extends PulsarWsError {
  override name = 'DecryptionError';
  constructor(
    message: string,
    readonly keyNames: readonly string[],
    readonly messageId: string | undefined,
    options?: ErrorOptions,
  ) {
    super('PWS_ERR_DECRYPT', message, options);
  }
}

/**
 * The error for a refused WebSocket handshake (docs/protocol.md §8.1). 401/403 are auth errors and never
 * retried; 400 (bad parameter) and 404 (no such topic or namespace) are not retried either; 409
 * (name or exclusive subscription busy), 429, 5xx are retryable connect errors.
 */
export function handshakeError(status: number, serverMessage: string, url: string): PulsarWsError {
  const detail = serverMessage === '' ? '' : `: ${serverMessage}`;
  if (status === 401 || status === 403) {
    return new AuthError(
      `${status === 401 ? 'authentication' : 'authorization'} failed for ${url}${detail}`,
      status,
    );
  }
  if (status === 400) return new InvalidArgumentError(`the server refused the parameters of ${url}${detail}`);
  return new ConnectError(`handshake refused with HTTP ${status} for ${url}${detail}`, status, {
    retryable: status !== 404,
  });
}

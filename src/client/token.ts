/**
 * Where a session's JWT comes from, asked again before every connection attempt and every admin
 * call: a fixed string, a function (a secret manager, a refreshing identity provider), or a file that
 * is read each time (a mounted Kubernetes secret, a token written by a rotating agent). Credentials
 * are only checked at the handshake, so a rotated token takes effect on the next (re)connect.
 */
import { readFile } from 'node:fs/promises';
import { ConnectError, InvalidArgumentError, TimeoutError } from '../errors.js';

/** Returns the token to connect with now; called before every connection attempt. */
export type TokenProvider = () => string | Promise<string>;

export interface TokenOptions {
  /** JWT for token authentication: a string, or a function returning the current token. */
  readonly token?: string | TokenProvider;
  /**
   * A file holding the JWT (surrounding whitespace ignored), read again before every connection
   * attempt, so a rotated file is used from the next (re)connect on. Not with `token`.
   */
  readonly tokenFile?: string;
}

/** A JWT is base64url parts and dots; anything else would break (or inject into) the HTTP header. */
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;

/** Checks the token options when the client is made. @throws InvalidArgumentError */
export function checkTokenOptions(options: TokenOptions): void {
  const { token, tokenFile } = options;
  if (token !== undefined && tokenFile !== undefined) {
    throw new InvalidArgumentError('expected `token` or `tokenFile`, not both');
  }
  if (token !== undefined && typeof token !== 'string' && typeof token !== 'function') {
    throw new InvalidArgumentError(
      `expected \`token\` to be a string or a function returning one, got ${typeof token}`,
    );
  }
  if (tokenFile !== undefined && (typeof tokenFile !== 'string' || tokenFile === '')) {
    throw new InvalidArgumentError(
      `expected \`tokenFile\` to be a file path, got ${JSON.stringify(tokenFile)}`,
    );
  }
}

/** The token of a file, trimmed. @throws ConnectError (retryable) naming the file. */
export async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConnectError(`cannot read the token file ${path}: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
  return checkedToken(text.trim(), `the token file ${path}`);
}

/** `token` when it is one non-empty JWT-like word. @throws ConnectError naming `source` */
export function checkedToken(token: unknown, source: string): string {
  if (typeof token !== 'string' || token === '') {
    throw new ConnectError(
      typeof token === 'string' ? `${source} is empty` : `${source} returned ${typeof token}, not a string`,
    );
  }
  if (!TOKEN_CHARACTERS.test(token)) {
    throw new ConnectError(
      `${source} holds whitespace or control characters inside the token (one JWT expected)`,
    );
  }
  return token;
}

/**
 * The token to send now, or undefined without token authentication, within `timeoutMs` (a provider
 * that hangs must not stall a session). A failure is a retryable `ConnectError` or `TimeoutError`
 * naming its source: a file caught mid-rotation, or a provider briefly unavailable, is tried again
 * with the session's backoff.
 */
export async function currentToken(options: TokenOptions, timeoutMs = Infinity): Promise<string | undefined> {
  const { token, tokenFile } = options;
  if (tokenFile === undefined && typeof token !== 'function') return token;
  const source = tokenFile === undefined ? 'the token provider' : `the token file ${tokenFile}`;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    if (timeoutMs === Infinity) return;
    timer = setTimeout(
      () => reject(new TimeoutError(`${source} did not give a token within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      tokenFile === undefined ? provided(token as TokenProvider) : readTokenFile(tokenFile),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function provided(provider: TokenProvider): Promise<string> {
  let token: unknown;
  try {
    token = await provider();
  } catch (error) {
    throw new ConnectError(`the token provider failed: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
  return checkedToken(token, 'the token provider');
}

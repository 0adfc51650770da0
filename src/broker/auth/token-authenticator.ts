/**
 * JWT token authentication as Pulsar's `AuthenticationProviderToken` with a secret key: HMAC-signed
 * tokens (HS256/384/512) whose `sub` claim is the role; `exp` is enforced when present. Tokens come
 * from the `Authorization: Bearer` header or, when there is none, the `token` query parameter (with or
 * without the `Bearer ` prefix). Tokens are never logged.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { jwtVerify, SignJWT } from 'jose';

export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
}

const BEARER = /^Bearer\s+/i;

/** The token of a request, as Pulsar's WebSocket request wrapper finds it. */
export function tokenOf(headers: IncomingHttpHeaders, query: URLSearchParams): string | undefined {
  const header = headers.authorization;
  if (header !== undefined && header !== '') return header.replace(BEARER, '');
  const param = query.get('token');
  return param === null || param === '' ? undefined : param.replace(BEARER, '');
}

export class TokenAuthenticator {
  private constructor(private readonly key: Uint8Array) {}

  /** Reads a secret key file holding the raw key bytes (Pulsar's `tokenSecretKey=file:///...`). */
  static async fromSecretFile(path: string): Promise<TokenAuthenticator> {
    const key = await readFile(path);
    if (key.length < 32) {
      throw new AuthenticationError(
        `the token secret key in ${path} has ${key.length} bytes; HS256 needs at least 32`,
      );
    }
    return new TokenAuthenticator(key);
  }

  /**
   * The role of a valid token.
   * @throws AuthenticationError when the token is missing, malformed, badly signed or expired.
   */
  async authenticate(token: string | undefined): Promise<string> {
    if (token === undefined) throw new AuthenticationError('Failed to authenticate: no token');
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256', 'HS384', 'HS512'] });
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        throw new AuthenticationError('Failed to authenticate: token has no subject');
      }
      return payload.sub;
    } catch (error) {
      if (error instanceof AuthenticationError) throw error;
      // jose's message says what is wrong (expired, signature) without echoing the token.
      throw new AuthenticationError(`Failed to authenticate: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** Signs an HS256 token for `subject`, as `pulsar tokens create --secret-key ... --subject ...` does. */
export async function createToken(
  key: Uint8Array,
  subject: string,
  options: { expiresInSeconds?: number } = {},
): Promise<string> {
  let jwt = new SignJWT({ sub: subject }).setProtectedHeader({ alg: 'HS256' });
  if (options.expiresInSeconds !== undefined) {
    jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + options.expiresInSeconds);
  }
  return jwt.sign(key);
}

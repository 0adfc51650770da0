import { describe, expect, it } from 'vitest';
import { backoffDelay, resolveBackoffOptions } from '../../src/client/backoff.js';
import {
  AbortError,
  AuthError,
  ConnectError,
  handshakeError,
  InvalidArgumentError,
  PulsarWsError,
  SendError,
} from '../../src/errors.js';

describe('error taxonomy', () => {
  it('maps handshake statuses to codes and retry policy', () => {
    expect(handshakeError(401, 'Authentication required', 'ws://x')).toMatchObject({
      code: 'PWS_ERR_AUTH',
      retryable: false,
    });
    expect(handshakeError(403, 'Not authorized', 'ws://x')).toBeInstanceOf(AuthError);
    expect(handshakeError(400, 'Invalid query params: x', 'ws://x')).toMatchObject({
      code: 'PWS_ERR_INVALID_ARG',
      retryable: false,
    });
    expect(handshakeError(404, 'Namespace not found', 'ws://x')).toMatchObject({
      code: 'PWS_ERR_CONNECT',
      retryable: false,
      status: 404,
    });
    for (const status of [409, 429, 500, 503]) {
      expect(handshakeError(status, '', 'ws://x')).toMatchObject({
        code: 'PWS_ERR_CONNECT',
        retryable: true,
        status,
      });
    }
  });

  it('every error is a PulsarWsError with a name, a code and the cause', () => {
    const cause = new Error('socket hang up');
    const error = new ConnectError('lost', undefined, { cause });
    expect(error).toBeInstanceOf(PulsarWsError);
    expect(error).toMatchObject({ name: 'ConnectError', code: 'PWS_ERR_CONNECT', cause });
    expect(new AbortError()).toMatchObject({ name: 'AbortError', code: 'PWS_ERR_ABORTED' });
    expect(new SendError('send-error:7', 'Invalid Base64', 'c1').message).toContain('c1');
    expect(new InvalidArgumentError('bad')).toMatchObject({ code: 'PWS_ERR_INVALID_ARG', retryable: false });
  });
});

describe('backoff', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const options = resolveBackoffOptions({ initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 6 });
    const top = () => 0.999999;
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(options, attempt, top))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelay(options, 3, () => 0)).toBe(0);
    expect(backoffDelay(options, 6, top)).toBeUndefined();
  });

  it('refuses bad options naming the option and the value', () => {
    expect(() => resolveBackoffOptions({ initialDelayMs: 0 })).toThrow(/`initialDelayMs`.*got 0/);
    expect(() => resolveBackoffOptions({ initialDelayMs: 500, maxDelayMs: 100 })).toThrow(/`maxDelayMs`/);
    expect(() => resolveBackoffOptions({ maxAttempts: 1.5 })).toThrow(/`maxAttempts`/);
  });
});

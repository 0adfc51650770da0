/**
 * Helpers of the HTTP intake (webhook source, `/publish`): a cancellable wait that rejects with the
 * abort's own reason and leaves no waiter behind, and secrets compared by digest whatever their
 * lengths.
 */
import { describe, expect, it } from 'vitest';
import { matchesSecret, secretDigest } from '../../src/connectors/constant-time.js';
import { HttpRefusal } from '../../src/connectors/http-replies.js';
import { wakeOrAbort } from '../../src/connectors/wake-or-abort.js';

describe('wakeOrAbort', () => {
  it('resolves on the wake-up and stops listening for the abort', async () => {
    const waiters = new Set<() => void>();
    const controller = new AbortController();
    const waiting = wakeOrAbort(controller.signal, (wake) => {
      waiters.add(wake);
      return () => waiters.delete(wake);
    });
    for (const wake of waiters) wake();
    await waiting;
    // An abort after the wake-up changes nothing (and throws nowhere).
    controller.abort(new HttpRefusal(503, 'late'));
  });

  it('rejects with the abort reason itself and unsubscribes; an aborted signal does not subscribe', async () => {
    const waiters = new Set<() => void>();
    const subscribe = (wake: () => void) => {
      waiters.add(wake);
      return () => waiters.delete(wake);
    };
    const controller = new AbortController();
    const waiting = wakeOrAbort(controller.signal, subscribe);
    expect(waiters.size).toBe(1);
    const reason = new HttpRefusal(503, 'stalled', 5);
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(waiters.size).toBe(0);
    await expect(wakeOrAbort(controller.signal, subscribe)).rejects.toBe(reason);
    expect(waiters.size).toBe(0);
  });
});

describe('matchesSecret', () => {
  it('accepts the secret only, whatever the length of what is presented', () => {
    const expected = secretDigest('s3cret-value');
    expect(matchesSecret('s3cret-value', expected)).toBe(true);
    for (const wrong of ['', 's', 's3cret-valu', 's3cret-value ', 'x'.repeat(10_000)]) {
      expect(matchesSecret(wrong, expected)).toBe(false);
    }
  });
});

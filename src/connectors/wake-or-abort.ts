/**
 * Waiting for a wake-up that may never come, cancellably: the webhook source waiting for its stream
 * to want more, `/publish` waiting for a producer's 'drain', a request waiting for room in a
 * `MessageWindow`. `events.once(emitter, name, { signal })` covers only the 'drain' case, and would
 * reject with its own `AbortError` (and on the producer's 'error', which the producer's 'close'
 * already answers), where the callers need the abort's own reason (an `HttpRefusal`) to answer with.
 */

/**
 * Resolves once `subscribe`'s `wake` is called; rejects with `signal.reason` if `signal` aborts
 * first, calling the unsubscribe function `subscribe` returned (so nothing waits on for nobody).
 */
export function wakeOrAbort(signal: AbortSignal, subscribe: (wake: () => void) => () => void): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      unsubscribe();
      reject(signal.reason as Error);
    };
    const unsubscribe = subscribe(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Comparing secrets a caller presents (the webhook's shared secret, the sidecar's bearer token)
 * without letting the time taken say anything about them: both sides are hashed to SHA-256 digests
 * of the same length and compared with `timingSafeEqual`, so neither the content nor the length of
 * the expected secret leaks (comparing the strings' lengths first would tell a prober the length).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The SHA-256 digest a secret is compared by (keep it rather than the secret where possible). */
export function secretDigest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** Whether `given` is the secret whose digest is `expected`, in time that does not depend on either. */
export function matchesSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(secretDigest(given), expected);
}

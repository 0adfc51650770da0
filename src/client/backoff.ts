/**
 * Reconnect delays: exponential backoff with full jitter (a random delay between 0 and the capped
 * exponential), which spreads reconnecting clients instead of synchronising them.
 */
import { InvalidArgumentError } from '../errors.js';

export interface BackoffOptions {
  /** First ceiling, in ms. @default 100 */
  readonly initialDelayMs?: number;
  /** Ceiling never exceeded, in ms. @default 30000 */
  readonly maxDelayMs?: number;
  /** Attempts before giving up; Infinity retries forever. @default Infinity */
  readonly maxAttempts?: number;
}

export type ResolvedBackoff = Readonly<Required<BackoffOptions>>;

export function resolveBackoffOptions(input: BackoffOptions = {}): ResolvedBackoff {
  const resolved = { initialDelayMs: 100, maxDelayMs: 30_000, maxAttempts: Infinity, ...input };
  if (!Number.isFinite(resolved.initialDelayMs) || resolved.initialDelayMs <= 0) {
    throw new InvalidArgumentError(
      `expected \`initialDelayMs\` to be a positive number, got ${resolved.initialDelayMs}`,
    );
  }
  if (!Number.isFinite(resolved.maxDelayMs) || resolved.maxDelayMs < resolved.initialDelayMs) {
    throw new InvalidArgumentError(
      `expected \`maxDelayMs\` to be a number >= initialDelayMs (${resolved.initialDelayMs}), got ${resolved.maxDelayMs}`,
    );
  }
  if (
    !(resolved.maxAttempts >= 1) ||
    (Number.isFinite(resolved.maxAttempts) && !Number.isInteger(resolved.maxAttempts))
  ) {
    throw new InvalidArgumentError(
      `expected \`maxAttempts\` to be an integer >= 1 or Infinity, got ${resolved.maxAttempts}`,
    );
  }
  return resolved;
}

/** The delay before attempt `attempt` (0-based), or undefined when attempts are exhausted. */
export function backoffDelay(
  options: ResolvedBackoff,
  attempt: number,
  random: () => number = Math.random,
): number | undefined {
  if (attempt >= options.maxAttempts) return undefined;
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

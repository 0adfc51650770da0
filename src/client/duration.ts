/** Checks for options that are durations in ms and end up in a timer. */
import { InvalidArgumentError } from '../errors.js';

/** Node's timers hold at most 2^31 - 1 ms (about 24.8 days); a larger value fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

export interface DurationRule {
  /** 0 is allowed (it usually means "off"). */
  readonly zero?: boolean;
  /** Infinity is allowed (no timer at all). */
  readonly infinite?: boolean;
}

/** @returns `value` when it is a duration the rule allows. @throws InvalidArgumentError naming `name`. */
export function checkDuration(
  name: string,
  value: number,
  { zero = false, infinite = false }: DurationRule = {},
): number {
  const ok =
    typeof value === 'number' &&
    ((infinite && value === Infinity) ||
      (Number.isFinite(value) && (zero ? value >= 0 : value > 0) && value <= MAX_TIMER_MS));
  if (!ok) {
    const allowed = `a number of ms ${zero ? '>= 0' : '> 0'} and <= ${MAX_TIMER_MS}${infinite ? ', or Infinity' : ''}`;
    throw new InvalidArgumentError(
      `expected \`${name}\` to be ${allowed}, got ${String(value)} (${typeof value})`,
    );
  }
  return value;
}

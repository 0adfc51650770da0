/**
 * Retention as Pulsar applies it to a managed ledger's consumed ledgers: a segment whose every entry
 * all durable subscriptions have acknowledged is deleted once it is older than the retention time or
 * the topic is over the retention size; -1 makes that limit infinite. Both 0 (the default) means no
 * retention: consumed segments go at once.
 */
export interface RetentionPolicy {
  /** Minutes a consumed segment is kept after its last write; -1 = forever. */
  readonly retentionTimeInMinutes: number;
  /** Megabytes of consumed data kept per topic; -1 = unlimited. */
  readonly retentionSizeInMB: number;
}

export const NO_RETENTION: RetentionPolicy = { retentionTimeInMinutes: 0, retentionSizeInMB: 0 };

const MEGABYTE = 1024 * 1024;

export class RetentionPolicyError extends Error {
  override readonly name = 'RetentionPolicyError';
}

/**
 * Checks a policy as Pulsar's admin API does; the messages are Pulsar's.
 * @throws RetentionPolicyError
 */
export function checkRetentionPolicy(value: unknown): RetentionPolicy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RetentionPolicyError(
      'expected a JSON object {"retentionTimeInMinutes": <int>, "retentionSizeInMB": <int>}',
    );
  }
  const { retentionTimeInMinutes = 0, retentionSizeInMB = 0 } = value as Record<string, unknown>;
  for (const [name, limit] of [
    ['retentionTimeInMinutes', retentionTimeInMinutes],
    ['retentionSizeInMB', retentionSizeInMB],
  ] as const) {
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit)) {
      throw new RetentionPolicyError(`expected ${name} to be an integer, got ${JSON.stringify(limit)}`);
    }
  }
  const time = retentionTimeInMinutes as number;
  const size = retentionSizeInMB as number;
  if (size < -1) throw new RetentionPolicyError('Invalid retention policy: size limit must be >= -1');
  if (time < -1) throw new RetentionPolicyError('Invalid retention policy: time limit must be >= -1');
  if ((time === 0) !== (size === 0)) {
    throw new RetentionPolicyError(
      'Invalid retention policy: Setting a single time or size limit to 0 is invalid when one of the limits has a non-zero value. Use the value of -1 instead of 0 to ignore a specific limit. To disable retention both limits must be set to 0.',
    );
  }
  return { retentionTimeInMinutes: time, retentionSizeInMB: size };
}

/**
 * Whether retention lets a consumed segment go: it has expired (older than the retention time) or the
 * topic is over its retention size (`storedBytes` counts every segment still on disk).
 */
export function retentionAllowsDeleting(
  policy: RetentionPolicy,
  lastWriteAt: number,
  storedBytes: number,
  now: number,
): boolean {
  const { retentionTimeInMinutes: time, retentionSizeInMB: size } = policy;
  if (time === 0 && size === 0) return true;
  const expired = time >= 0 && now - lastWriteAt > time * 60_000;
  const overQuota = size >= 0 && storedBytes > size * MEGABYTE;
  return expired || overQuota;
}

/**
 * How a topic log reports what recovery found in a ledger when it opened (torn records, failed
 * batches, damage, files that could not be cut): one log line per kind, warnings for what was cut
 * as expected after a crash, errors for damage that lost or hid acknowledged messages.
 */
import type { Logger } from 'pino';
import type { Segment, SegmentRecovery } from './segment.js';

/** Damaged entries named one by one in the recovery log line; the count gives the rest. */
const DAMAGED_ENTRIES_LOGGED = 20;

export function reportRecovery(logger: Logger, segment: Segment, recovery: SegmentRecovery): void {
  const { ledgerId } = segment;
  if (recovery.tornBytes > 0) {
    logger.warn({ ledgerId, tornBytes: recovery.tornBytes }, 'cut a torn record left by a crash');
  }
  if (recovery.failedBatchBytes > 0) {
    logger.warn(
      { ledgerId, failedBatchBytes: recovery.failedBatchBytes },
      'cut the records of a failed write past the ledger seal',
    );
  }
  if (recovery.damagedEntries.length > 0) {
    logger.error(
      {
        ledgerId,
        damagedEntries: recovery.damagedEntries.slice(0, DAMAGED_ENTRIES_LOGGED),
        damagedCount: recovery.damagedEntries.length,
        path: segment.path,
      },
      'damaged records in the middle of a ledger (bad checksum): those entries are skipped, the records after them are kept',
    );
  }
  if (recovery.unreadableBytes > 0) {
    logger.error(
      {
        ledgerId,
        entriesRead: segment.entryCount,
        unreadableBytes: recovery.unreadableBytes,
        path: segment.path,
      },
      'damaged record in a ledger written before checksums named their entries: the bytes after it are kept on disk but not read',
    );
  }
  if (recovery.cutError !== undefined) {
    logger.warn(
      { err: recovery.cutError, ledgerId },
      'cannot cut the ledger file; reading it up to its valid end',
    );
  }
}

/** What a topic log's appends and reads fail with (storage/message-log.ts). */

/** An append that was not stored: its write failed, or one before it did. The client may resend. */
export class LogFailedError extends Error {
  override readonly name = 'LogFailedError';
}

/** A read of an entry that retention deleted. */
export class EntryDeletedError extends Error {
  override readonly name: string = 'EntryDeletedError';
}

/**
 * A read of an entry whose record recovery found damaged. It is an EntryDeletedError, so consumers
 * and readers skip it as they skip a deleted entry (the log reports it, once, as an error).
 */
export class CorruptEntryError extends EntryDeletedError {
  override readonly name = 'CorruptEntryError';
}

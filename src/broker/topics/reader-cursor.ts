/** A non-durable read position on a topic's log, as a reader's internal subscription is. */
import { EntryDeletedError } from '../storage/log-errors.js';
import type { LogEntry, MessageLog } from '../storage/message-log.js';
import { Signal } from './signal.js';

export class ReaderCursor {
  private closed = false;
  private readonly changed = new Signal();
  private readonly onAppended = (): void => this.changed.notify();

  constructor(
    private readonly log: MessageLog,
    private position: number,
  ) {
    log.on('appended', this.onAppended);
    // A reader reads the log as it grows: appends are cached for it (MessageLog.readerAttached).
    log.readerAttached();
  }

  /** True when every entry written so far has been handed out. */
  get atEnd(): boolean {
    return this.position >= this.log.length;
  }

  /**
   * The next entry, waiting for one to be appended if needed; null once closed. Entries retention
   * deleted are skipped: a reader from `earliest` starts at the first one still stored.
   */
  async next(): Promise<LogEntry | null> {
    while (!this.closed) {
      this.position = Math.max(this.position, this.log.firstOrdinal);
      if (this.position < this.log.length) {
        try {
          return await this.log.read(this.position++);
        } catch (error) {
          if (!(error instanceof EntryDeletedError)) throw error;
          continue;
        }
      }
      await this.changed.wait();
    }
    return null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.log.readerDetached();
    this.log.off('appended', this.onAppended);
    this.changed.notify();
  }
}

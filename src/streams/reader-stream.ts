/**
 * The reader a client hands out: one `Readable` (objectMode) merging one or more reader sessions
 * (`ReaderSessionStream`), taking a message from each in turn, each session's messages in order.
 *
 * One session reads a non-partitioned topic, or a partitioned topic's base name from earliest or
 * latest through Pulsar's own merged reader. One session per partition (`<topic>-partition-N`)
 * reads a partitioned topic when the server cannot: from message ids (Pulsar 4.0 refuses them on a
 * base name) or up to the end (`stopAtEnd`: each partition stops at its own last message as of
 * the start, and the stream ends once every partition has). See `reader-parts.ts` for the plan.
 *
 * Bounds: each session holds at most its window (buffered plus in transit, see
 * `partitionWindow`), and this stream buffers at most `MERGE_HIGH_WATER_MARK` more messages. Reader
 * acks acknowledge nothing on the broker: message `ack()`/`nack()` are no-ops.
 */
import { Readable } from 'node:stream';
import type { ReaderSessionStream } from './reader-session-stream.js';
import { RoundRobin } from './round-robin.js';

export {
  PIPE_READER_QUEUE_SIZE,
  resolveReaderHighWaterMark,
  ReaderSessionStream,
} from './reader-session-stream.js';

/** Messages the merged stream buffers on top of its sessions' windows. */
export const MERGE_HIGH_WATER_MARK = 16;

export class ReaderStream extends Readable {
  private parts: readonly ReaderSessionStream[] = [];
  private endedParts = 0;
  private readonly merge = new RoundRobin<ReaderSessionStream>(
    () => this.parts,
    () => this.parts.length,
    (item) => this.push(item),
  );
  /** Stops `openParts`' admin call (retried within the connect timeout) when the stream is destroyed first. */
  private readonly constructing = new AbortController();

  /**
   * `openParts` runs once, when the stream is constructed: the sessions to merge, not yet connected.
   * Its signal is aborted if the stream is destroyed before they are known.
   */
  constructor(private readonly openParts: (signal: AbortSignal) => Promise<readonly ReaderSessionStream[]>) {
    super({ objectMode: true, highWaterMark: MERGE_HIGH_WATER_MARK });
  }

  /** The sessions merged (empty until the stream is constructed). */
  get sessions(): readonly ReaderSessionStream[] {
    return this.parts;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.openParts(this.constructing.signal).then(
      (parts) => {
        this.parts = parts;
        for (const part of parts) this.wire(part);
        if (parts.length === 0) this.push(null);
        callback();
      },
      // Destroyed while the admin call ran: its AbortError is not the stream's error.
      (error: unknown) => callback(this.constructing.signal.aborted ? null : (error as Error)),
    );
  }

  private wire(part: ReaderSessionStream): void {
    part.on('state', (state: string, error?: Error) => this.emit('state', state, error));
    part.on('readable', () => this.drain());
    part.on('error', (error: Error) => {
      if (!this.destroyed) this.destroy(error);
    });
    part.on('end', () => {
      this.endedParts++;
      if (this.endedParts === this.parts.length) this.push(null);
    });
  }

  override _read(): void {
    if (!this.destroyed) this.merge.want();
  }

  /**
   * Moves messages from the sessions, one from each in turn, while this stream wants more. A read
   * that returns null also lets an ended session emit its `'end'`.
   */
  private drain(): void {
    if (!this.destroyed) this.merge.drain();
  }

  override destroy(error?: Error): this {
    this.constructing.abort();
    return super.destroy(error);
  }

  /** Closes every session and waits until they are closed; the stream's own error is the one reported. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const open = this.parts.filter((part) => !part.closed);
    let pending = open.length;
    if (pending === 0) {
      callback(error);
      return;
    }
    for (const part of open) {
      part.once('close', () => {
        if (--pending === 0) callback(error);
      });
      part.destroy();
    }
  }
}

/**
 * Turns any `Writable` into an acking sink: each chunk (a consumer message, a `Tracked` value, or a
 * plain value) is written to the target, and its source message is acknowledged when the target's
 * write callback reports that chunk done, never before. If the target fails or the pipeline is torn
 * down, writes that did not complete acknowledge nothing and the broker redelivers those messages.
 *
 * The target's own guarantee is what "written" means: for `fs.WriteStream`, handed to the OS. Sinks
 * that need fsync-level durability (the file connectors) ack after their flush instead.
 */
import { finished, Writable } from 'node:stream';
import { ClosedError } from '../errors.js';
import { settlementOf, type Tracked } from './tracked.js';

export interface AckingSinkOptions<T> {
  /** Turns each value into what the target accepts (e.g. `(m) => m.payload`). @default identity */
  readonly map?: (value: T) => unknown;
  /** Chunks queued in front of the target. @default 16 */
  readonly highWaterMark?: number;
  /**
   * End (and on teardown destroy) the target when this sink ends. `false` for targets that must
   * stay open, such as `process.stdout`: the sink then only waits for its writes. @default true
   */
  readonly end?: boolean;
}

class AckingSink<T> extends Writable {
  private readonly map: (value: T) => unknown;
  private readonly endTarget: boolean;
  /** Writes handed to the target whose callbacks have not fired yet. */
  private outstanding = 0;
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly target: Writable,
    options: AckingSinkOptions<T>,
  ) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? 16 });
    this.map = options.map ?? ((value) => value);
    this.endTarget = options.end ?? true;
    target.once('error', (error) => this.destroy(error));
  }

  override _write(
    chunk: Tracked<T> | T,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    const { value, written } = settlementOf(chunk);
    let data: unknown;
    try {
      data = this.map(value);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.outstanding += 1;
    const hasRoom = this.target.write(data, (error) => {
      // A failed write is reported through the target's 'error'; its message stays unacknowledged.
      if (error === null || error === undefined) written();
      this.outstanding -= 1;
      if (this.outstanding === 0) this.onIdle?.();
    });
    if (hasRoom) {
      callback();
      return;
    }
    const onDrain = (): void => {
      this.target.off('close', onClose);
      callback();
    };
    const onClose = (): void => {
      this.target.off('drain', onDrain);
      callback(new ClosedError('the sink closed while writes were waiting for it to drain'));
    };
    this.target.once('drain', onDrain);
    this.target.once('close', onClose);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.endTarget) {
      this.target.end();
      finished(this.target, (error) => callback(error));
      return;
    }
    if (this.outstanding === 0) {
      callback();
      return;
    }
    this.onIdle = () => {
      this.onIdle = undefined;
      callback();
    };
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Torn down before finishing: the target goes too, so no write still queued in it can complete.
    if (this.endTarget && !this.target.destroyed && (error !== null || !this.writableFinished)) {
      this.target.destroy(error ?? undefined);
    }
    callback(error);
  }
}

/** Wraps `target` so that each message is acknowledged once the target wrote it. */
export function ackingSink<T = unknown>(target: Writable, options: AckingSinkOptions<T> = {}): Writable {
  return new AckingSink<T>(target, options);
}

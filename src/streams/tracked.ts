/**
 * Acks that travel with data. A `Tracked` value carries the acknowledgement of the message(s) it came
 * from; the sink that finally writes it calls `written()`, and only then is the source message
 * acknowledged. Consumer messages are their own tracked values (their `ack()` is the `written()`).
 */
import { isConsumerMessage, type ConsumerMessage } from './consumer-message.js';

/** What a sink may tell about a write: a producer gives the id the broker assigned. */
export interface WriteReceipt {
  readonly messageId?: string;
  /** Effectively-once producers: the message's sequence id (on its partition, for a partitioned topic). */
  readonly sequenceId?: number;
  /** Effectively-once producers on a partitioned topic: the partition the message went to. */
  readonly partition?: number;
  /**
   * Effectively-once producers on a partitioned topic: the partition count the message was routed
   * over (a checkpoint records it, so a restart can tell whether the count changed since).
   */
  readonly partitionCount?: number;
}

export class Tracked<T> {
  private done = false;

  /** `onWritten` runs once, on the first `written()`. */
  constructor(
    readonly value: T,
    private readonly onWritten: (receipt?: WriteReceipt) => void,
  ) {}

  /** Reports the value durably written; acknowledges its source message(s) once all their parts are. */
  written(receipt?: WriteReceipt): void {
    if (this.done) return;
    this.done = true;
    this.onWritten(receipt);
  }
}

/** What a sink writes and what it calls once the write is done. */
export interface Settlement<T> {
  readonly value: T;
  readonly written: (receipt?: WriteReceipt) => void;
}

const nothingToAck = (): void => undefined;

/**
 * Unwraps a chunk a sink received: a `Tracked` value, a consumer message (acknowledged when written),
 * or a plain value (nothing to acknowledge).
 */
export function settlementOf<T>(chunk: Tracked<T> | T): Settlement<T> {
  if (chunk instanceof Tracked) return { value: chunk.value, written: (receipt) => chunk.written(receipt) };
  if (isConsumerMessage(chunk)) {
    // The ack alone, not the message: sinks hold `written` until their data is durable, and
    // holding the message would keep its payload alive that long. The ack itself, not a closure
    // around it (one fewer object per message): it takes no receipt and ignores one.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- an arrow function (toConsumerMessage): no `this`
    return { value: chunk, written: chunk.ack };
  }
  return { value: chunk, written: nothingToAck };
}

/** A chunk as a `Tracked` value (a consumer message is tracked by its own ack). */
export function toTracked<T>(chunk: Tracked<T> | T): Tracked<T> {
  if (chunk instanceof Tracked) return chunk;
  const { value, written } = settlementOf(chunk);
  return new Tracked(value, written);
}

/** Splits one source's acknowledgement over `parts` outputs: it fires once every part is written. */
export function splitAck(source: Tracked<unknown>, parts: number): () => void {
  let left = parts;
  return () => {
    left -= 1;
    if (left === 0) source.written();
  };
}

export type { ConsumerMessage };

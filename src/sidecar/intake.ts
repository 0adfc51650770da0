/**
 * The stage between a pipeline's source and its sink: counts what comes in and, through each
 * message's acknowledgement, what the sink durably wrote (the metrics), and stops taking messages
 * when the pipeline drains. What it took it always passes on, so a drain loses nothing: the sink
 * writes it and acknowledges it, or (at the shutdown timeout) acknowledges nothing and it comes again.
 */
import { isConsumerMessage } from '../streams/consumer-message.js';
import type { ProducerMessageObject } from '../streams/producer-message.js';
import { settlementOf, Tracked } from '../streams/tracked.js';

export interface IntakeCounters {
  /** A message came from the source. */
  taken(bytes: number): void;
  /** The sink wrote it; `messageId` is the consumed message's id, when it was one. */
  written(bytes: number, messageId: string | undefined): void;
  /** A message taken from a consumer when the drain began was given back (nacked). */
  givenBack(): void;
}

export interface IntakeOptions {
  readonly counters: IntakeCounters;
  /** Aborted when the pipeline drains; absent for sources that end themselves (webhooks close). */
  readonly stop?: AbortSignal;
  /** Consumed messages become plain producer messages (for a topic sink). */
  readonly republish?: boolean;
}

const STOPPED = Symbol('stopped');

function payloadBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (value instanceof Uint8Array) return value.byteLength;
  const payload = (value as { payload?: unknown } | null)?.payload;
  if (typeof payload === 'string') return Buffer.byteLength(payload);
  return payload instanceof Uint8Array ? payload.byteLength : 0;
}

function republished(value: unknown): unknown {
  if (!isConsumerMessage(value)) return value;
  const message: ProducerMessageObject = {
    payload: value.payload,
    ...(Object.keys(value.properties).length === 0 ? {} : { properties: value.properties }),
    ...(value.key === undefined ? {} : { key: value.key }),
    ...(value.eventTime === undefined ? {} : { eventTime: value.eventTime }),
  };
  return message;
}

/** A pipeline stage (an async generator function for `pipeline()`). */
export function intake(options: IntakeOptions) {
  const { counters, stop } = options;
  // One abort listener wakes whichever read is waiting. (Racing each read against one shared
  // promise would pile a reaction onto that promise per message for as long as the pipeline runs.)
  let wake: ((stopped: typeof STOPPED) => void) | undefined;
  stop?.addEventListener('abort', () => wake?.(STOPPED), { once: true });
  return async function* (source: AsyncIterable<unknown>): AsyncGenerator<Tracked<unknown>> {
    const iterator = source[Symbol.asyncIterator]();
    for (;;) {
      const next = iterator.next();
      const result =
        stop === undefined
          ? await next
          : await new Promise<IteratorResult<unknown> | typeof STOPPED>((resolve, reject) => {
              wake = resolve;
              if (stop.aborted) resolve(STOPPED);
              next.then(resolve, reject);
            });
      wake = undefined;
      if (result === STOPPED) {
        // A message the source hands out after this was not taken: a consumed one is given back so
        // the broker redelivers it at once; a file's is not acknowledged, so its checkpoint stays
        // before it. The source is destroyed when the pipeline ends, which settles this read; its
        // error then is that destruction, nothing to report.
        next.then(
          (late) => {
            if (late.done !== true && isConsumerMessage(late.value)) {
              late.value.nack();
              counters.givenBack();
            }
          },
          () => undefined,
        );
        return;
      }
      if (result.done === true) return;
      const { value, written } = settlementOf(result.value);
      const bytes = payloadBytes(value);
      const messageId = isConsumerMessage(value) ? value.messageId : undefined;
      counters.taken(bytes);
      yield new Tracked(options.republish === true ? republished(value) : value, (receipt) => {
        counters.written(bytes, messageId);
        written(receipt);
      });
    }
  };
}

/**
 * The effectively-once producer: a `Writable` (objectMode) like `ProducerStream`, that also keeps
 * effectively-once on partitioned topics, where Pulsar deduplicates each partition on its own (by
 * producer name and that partition's sequence ids).
 *
 * As with `ProducerStream`, a write's callback means the message was accepted into the in-flight
 * window, not that it is stored. Stored is: the `'ack'` event (or `onAck`), a tracked chunk's
 * `written()` with its receipt, `'finish'` (every message acknowledged), and the resume state
 * (`lastAckedSequenceId`, `partitionSequenceIds`), which only covers acknowledged messages.
 *
 * Pulsar's WebSocket proxy routes a partitioned producer's keyless messages to one partition picked
 * at random per connection (`SinglePartition`), so after a restart a resent message may land on a
 * partition that never saw it. So on a partitioned topic this stream does what Pulsar's partitioned
 * producer does inside the proxy, in the client: it learns the partition count (admin API), opens
 * one producer stream per partition (`<topic>-partition-<n>`, the same producer name on each), and
 * routes every message itself, deterministically:
 * - a keyed message goes where Pulsar sends its key (`hashingScheme`, JavaStringHash by default);
 * - a keyless one goes round robin by its position in the input: position mod partitions, where the
 *   first message's position is `initialSequenceId` + 1.
 * Each partition numbers its own messages from its entry in `partitionSequenceIds` + 1. A restart
 * from the acknowledged prefix (the input position `lastAckedSequenceId` and the per-partition
 * `partitionSequenceIds`) replays the same messages in the same order: each goes to the same
 * partition with the same sequence id, and the partition drops what it stored already.
 *
 * On a non-partitioned topic it is one `ProducerStream` whose sequence ids are the input positions.
 *
 * Bounds: at most `maxInFlight` positions from the oldest unacknowledged message to the newest sent
 * (so one slow partition holds the stream rather than the others running ahead without limit);
 * memory ≤ (highWaterMark + maxInFlight) × the largest message.
 */
import { Writable } from 'node:stream';
import { checkDuration } from '../client/duration.js';
import { ClosedError, InvalidArgumentError, TimeoutError } from '../errors.js';
import { keyPartition, type HashingScheme } from '../protocol/index.js';
import { AckedPrefix } from './acked-prefix.js';
import type { ProducerMessage } from './producer-message.js';
import type { ProducerAckEvent, ProducerStream } from './producer-stream.js';
import { settlementOf, Tracked, type WriteReceipt } from './tracked.js';

/** How the stream gets its per-partition producers. */
export interface ProducerLanes {
  /** The topic's partition count; 0 for a non-partitioned topic. Aborting `signal` gives up the lookup. */
  partitionCount(signal: AbortSignal): Promise<number>;
  /**
   * A producer stream (effectively-once, not tracked by the client) on the topic (`partition`
   * undefined) or on one partition, numbering its messages from `initialSequenceId` + 1.
   */
  open(partition: number | undefined, initialSequenceId: number): ProducerStream;
  /** Something worth telling that is not an error (the topic gained partitions). */
  warn(message: string): void;
}

export interface EffectivelyOnceOptions {
  /** The topic's full name, for messages. */
  readonly topic: string;
  /** The input position of the last message already published (-1 for a new input). */
  readonly initialSequenceId: number;
  /** Per partition, the sequence id of the last message already published to it (see the module doc). */
  readonly partitionSequenceIds?: readonly number[];
  readonly hashingScheme: HashingScheme;
  /** @default 16 */
  readonly highWaterMark?: number;
  /** @default 1000 */
  readonly maxInFlight?: number;
  /** @default 60000 */
  readonly finishTimeoutMs?: number;
}

/** Sequence ids are integers from -1 (nothing published yet), within what JSON numbers hold exactly. */
export function checkSequenceIds(
  effectivelyOnce: boolean,
  initial: number | undefined,
  partitions: readonly number[] | undefined,
): void {
  const valid = (id: number): boolean => Number.isSafeInteger(id) && id >= -1;
  if (partitions === undefined) return;
  if (!Array.isArray(partitions) || !partitions.every(valid)) {
    throw new InvalidArgumentError(
      `expected \`partitionSequenceIds\` to be an array of integers >= -1, got ${JSON.stringify(partitions)}`,
    );
  }
  if (!effectivelyOnce || initial === undefined) {
    throw new InvalidArgumentError(
      '`partitionSequenceIds` goes with `effectivelyOnce` and `initialSequenceId`',
    );
  }
}

/** What the acknowledged prefix needs of each message: where it went. */
interface Placement {
  readonly lane: number;
  readonly sequenceId: number;
}

type Callback = (error?: Error | null) => void;

export class EffectivelyOnceProducerStream extends Writable {
  /** Aborted by destroy(): the partition lookup in progress (with its retries) is given up. */
  private readonly constructing = new AbortController();
  private lanes: ProducerStream[] = [];
  private partitions = 0;
  /** Per lane, the sequence id of the last message routed to it (the routing state). */
  private sentSequenceIds: number[] = [];
  /** Per lane, the sequence id of its last message within the acknowledged prefix. */
  private ackedSequenceIds: number[] = [];
  private nextPosition: number;
  private readonly prefix: AckedPrefix<Placement>;
  private readonly maxInFlight: number;
  private readonly finishTimeoutMs: number;
  private heldCallback: Callback | undefined;
  private finalCallback: Callback | undefined;
  private finishTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: ProducerLanes,
    private readonly options: EffectivelyOnceOptions,
  ) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? 16 });
    this.maxInFlight = options.maxInFlight ?? 1000;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) {
      throw new InvalidArgumentError(
        `expected \`maxInFlight\` to be an integer >= 1, got ${this.maxInFlight}`,
      );
    }
    this.finishTimeoutMs = checkDuration('finishTimeoutMs', options.finishTimeoutMs ?? 60_000, {
      infinite: true,
    });
    this.nextPosition = options.initialSequenceId + 1;
    this.prefix = new AckedPrefix(this.nextPosition);
  }

  /** The partition count once the stream is open (0: a non-partitioned topic); undefined before. */
  get partitionCount(): number | undefined {
    return this.lanes.length === 0 ? undefined : this.partitions;
  }

  /**
   * The input position of the last message of the acknowledged prefix (every message up to it is
   * acknowledged): the `initialSequenceId` to resume with. On a non-partitioned topic this is also
   * its sequence id.
   */
  get lastAckedSequenceId(): number {
    return this.prefix.next - 1;
  }

  /**
   * Partitioned topics: per partition, the sequence id of its last message within the acknowledged
   * prefix: the `partitionSequenceIds` to resume with. Undefined for a non-partitioned topic, and
   * before the stream is open.
   */
  get partitionSequenceIds(): readonly number[] | undefined {
    return this.partitions === 0 || this.lanes.length === 0 ? undefined : [...this.ackedSequenceIds];
  }

  override _construct(callback: Callback): void {
    this.source.partitionCount(this.constructing.signal).then(
      (count) => {
        try {
          this.openLanes(count);
          callback();
        } catch (error) {
          callback(error as Error);
        }
      },
      // Destroyed during the lookup: its AbortError is not the stream's error.
      (error: unknown) => callback(this.constructing.signal.aborted ? null : (error as Error)),
    );
  }

  /** A destroy during construction gives up the partition lookup at once, not after its retries. */
  override destroy(error?: Error): this {
    this.constructing.abort();
    return super.destroy(error);
  }

  private openLanes(count: number): void {
    const starts = this.startingSequenceIds(count);
    this.partitions = count;
    this.sentSequenceIds = [...starts];
    this.ackedSequenceIds = [...starts];
    this.lanes = starts.map((start, lane) => {
      const stream = this.source.open(count === 0 ? undefined : lane, start);
      stream.on('error', (error) => this.destroy(error));
      stream.on('state', (state, error) => this.emit('state', state, error));
      stream.on('ack', (event) =>
        this.emit('ack', count === 0 ? event : ({ ...event, partition: lane } satisfies ProducerAckEvent)),
      );
      return stream;
    });
  }

  /** Where each lane's numbering starts, from the options and the partition count. */
  private startingSequenceIds(count: number): number[] {
    const { initialSequenceId, partitionSequenceIds: given, topic } = this.options;
    if (count === 0) return [initialSequenceId];
    if (given === undefined) {
      if (initialSequenceId === -1) return Array.from({ length: count }, () => -1);
      throw new InvalidArgumentError(
        `resuming effectively-once into ${topic} (${count} partitions) needs \`partitionSequenceIds\`: each partition numbers its own messages (pass the producer's \`partitionSequenceIds\` from the run before, or [] if no message went to any partition)`,
      );
    }
    if (given.length > count) {
      throw new InvalidArgumentError(
        `\`partitionSequenceIds\` names ${given.length} partitions but ${topic} has ${count}: partitions cannot be removed; was the topic deleted and created again?`,
      );
    }
    if (given.length > 0 && given.length < count) {
      // `given` has one entry per partition the topic had (the producer's `partitionSequenceIds`,
      // or a file source's checkpoint): a shorter array means partitions were added since.
      this.source.warn(
        `${topic} has ${count} partitions, ${given.length} when this input was last published: every message is now routed over ${count} partitions (a key's hash, or a keyless message's input position, modulo the count), so a message that was in flight when the last run stopped (after input position ${initialSequenceId}, at most maxInFlight of them) may be resent to another partition than its first copy, whose deduplication never saw it, and be stored twice; nothing is lost. If duplicates matter, look for them among those messages; next time, add partitions only once the producer of this input has finished (every message acknowledged)`,
      );
    }
    return Array.from({ length: count }, (_, lane) => given[lane] ?? -1);
  }

  private laneOf(message: ProducerMessage, position: number): number {
    if (this.partitions === 0) return 0;
    const key =
      typeof message === 'object' && !(message instanceof Uint8Array) && message !== null
        ? message.key
        : undefined;
    if (key !== undefined) return keyPartition(key, this.partitions, this.options.hashingScheme);
    return position % this.partitions;
  }

  override _write(
    chunk: ProducerMessage | Tracked<ProducerMessage>,
    _encoding: BufferEncoding,
    callback: Callback,
  ): void {
    const { value, written } = settlementOf(chunk);
    const position = this.nextPosition++;
    const lane = this.laneOf(value, position);
    const stream = this.lanes[lane];
    const sequenceId = (this.sentSequenceIds[lane] ?? -1) + 1;
    this.sentSequenceIds[lane] = sequenceId;
    if (stream === undefined) {
      callback(new Error(`no producer for partition ${lane} of ${this.options.topic}`));
      return;
    }
    // A failed write (a frame over the limit) destroys the lane, and with it this stream.
    stream.write(
      new Tracked(value, (receipt) => this.acked(position, { lane, sequenceId }, receipt, written)),
    );
    // Accepted into the window, not stored: the callback only paces the writer (see the module doc).
    if (this.nextPosition - this.prefix.next < this.maxInFlight) callback();
    else this.heldCallback = callback;
  }

  private acked(
    position: number,
    placement: Placement,
    receipt: WriteReceipt | undefined,
    written: (receipt?: WriteReceipt) => void,
  ): void {
    if (receipt?.sequenceId !== placement.sequenceId) {
      // The lane numbers its messages as this stream does; if it ever did not, resends would carry
      // other sequence ids than the first copies, and deduplication could not work.
      this.destroy(
        new Error(
          `internal error: message ${position} was routed with sequence id ${placement.sequenceId} but sent with ${receipt?.sequenceId}`,
        ),
      );
      return;
    }
    written({
      messageId: receipt.messageId ?? '',
      sequenceId: placement.sequenceId,
      ...(this.partitions === 0 ? {} : { partition: placement.lane, partitionCount: this.partitions }),
    });
    for (const { lane, sequenceId } of this.prefix.acked(position, placement))
      this.ackedSequenceIds[lane] = sequenceId;
    if (this.heldCallback !== undefined && this.nextPosition - this.prefix.next < this.maxInFlight) {
      const release = this.heldCallback;
      this.heldCallback = undefined;
      release();
    }
    if (this.finalCallback !== undefined && this.prefix.next === this.nextPosition) this.finishLanes();
  }

  /** Holds `'finish'` until every position is acknowledged and every lane closed (or the timeout). */
  override _final(callback: Callback): void {
    this.finalCallback = callback;
    if (this.prefix.next === this.nextPosition) {
      this.finishLanes();
      return;
    }
    if (this.finishTimeoutMs === Infinity) return;
    this.finishTimer = setTimeout(() => {
      this.finalCallback = undefined;
      callback(
        new TimeoutError(
          `the broker did not acknowledge ${this.nextPosition - this.prefix.next} message(s) within ${this.finishTimeoutMs} ms of end(); they may not be stored`,
        ),
      );
    }, this.finishTimeoutMs);
  }

  /** Everything is acknowledged: ends the lanes (closing their sessions), then finishes. */
  private finishLanes(): void {
    const callback = this.finalCallback;
    this.finalCallback = undefined;
    clearTimeout(this.finishTimer);
    if (callback === undefined) return;
    Promise.all(
      this.lanes.map(
        (lane) =>
          new Promise<void>((resolve) => {
            lane.once('close', () => resolve());
            lane.end();
          }),
      ),
    ).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  /**
   * Fails what waits on the stream (a held write, a pending `end()`) and closes every lane; what is
   * not acknowledged stays unacknowledged (tracked sources are not acked, so they come again).
   */
  override _destroy(error: Error | null, callback: Callback): void {
    clearTimeout(this.finishTimer);
    const failure =
      error ??
      new ClosedError(
        `the producer was destroyed with ${this.nextPosition - this.prefix.next} message(s) unacknowledged`,
      );
    const held = this.heldCallback;
    const final = this.finalCallback;
    this.heldCallback = undefined;
    this.finalCallback = undefined;
    held?.(failure);
    final?.(failure);
    Promise.all(
      this.lanes.map(
        (lane) =>
          new Promise<void>((resolve) => {
            if (lane.closed) resolve();
            else {
              lane.once('close', () => resolve());
              lane.destroy();
            }
          }),
      ),
    ).then(
      () => callback(error),
      (closeError: unknown) => callback(error ?? (closeError as Error)),
    );
  }
}

/**
 * A topic's message deduplication state: the highest sequence id per producer name, as Pulsar's
 * MessageDeduplication keeps it. Pulsar snapshots it into a cursor of the managed ledger; here a
 * snapshot file sits with the subscription cursors (`subscriptions/pulsar.dedup.snapshot`) and records
 * the log position it covers, so loading the state reads only the entries written after it, not the
 * whole topic. Retention may delete what the snapshot covers.
 *
 * Per producer, `accepted` answers "is this a duplicate?" the moment a publish arrives; `persisted`
 * only holds what is durable, and is what snapshots store, so a crash never leaves a snapshot claiming
 * a sequence id whose message was lost. When an append fails, `accepted` goes back to `persisted` as
 * soon as none of the producer's appends is in flight (Pulsar resets its pushed map the same way), so
 * the producer's resend is stored, not dropped as a duplicate.
 *
 * Bounded: a producer that is not connected is forgotten after `producerInactivityTimeoutMillis`
 * (Pulsar's `brokerDeduplicationProducerInactivityTimeoutMinutes`, checked every third of it, as
 * Pulsar does), and at most {@link MAX_IDLE_PRODUCERS} disconnected producers are kept (the least
 * recently active go first). Connected producers are always kept. The time a producer went idle is
 * snapshotted too, so a topic that unloads and reloads does not restart the clock.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../fs/atomic-file.js';
import { readTextIfExists } from '../../fs/missing-ok.js';
import type { Position } from '../storage/cursor-store.js';
import { EntryDeletedError } from '../storage/log-errors.js';
import type { MessageLog } from '../storage/message-log.js';
import type { StoredMessage } from '../storage/record-codec.js';

interface SnapshotFile {
  readonly version: 1;
  /** Every entry up to and including this position is reflected in `producers`. */
  readonly position: Position;
  readonly producers: Record<string, number>;
  /** Epoch ms since which each producer not connected at snapshot time has been idle. */
  readonly idleSince?: Record<string, number>;
}

interface ProducerState {
  /** Highest sequence id stored or being stored. */
  accepted: number;
  /** Highest sequence id stored. */
  persisted: number;
  /** Appends accepted and not settled yet. */
  inFlight: number;
}

/** Pulsar's `brokerDeduplicationEntriesInterval`: a snapshot every this many stored messages. */
const SNAPSHOT_EVERY_ENTRIES = 1000;

/**
 * Disconnected producers whose state a topic keeps at most (Pulsar's
 * `brokerDeduplicationMaxNumberOfProducers`, which bounds its snapshots).
 */
export const MAX_IDLE_PRODUCERS = 10_000;

/** A publish whose sequence id was accepted for a copy that then failed to persist: resend it. */
export class DuplicateUnknownError extends Error {
  override readonly name = 'DuplicateUnknownError';
}

export interface DeduplicationOptions {
  readonly log: MessageLog;
  readonly logger: Logger;
  /** A producer not connected for this long is forgotten. */
  readonly producerInactivityTimeoutMillis: number;
  /** Whether a producer of this name is connected: its state is kept whatever its age. */
  readonly isConnected: (producer: string) => boolean;
  /** @default MAX_IDLE_PRODUCERS */
  readonly maxIdleProducers?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

export class DeduplicationState {
  private readonly producers = new Map<string, ProducerState>();
  /** Producers not connected, by when they last were active, least recent first. */
  private readonly idle: LRUCache<string, number>;
  /** The last ordinal reflected in the persisted state (-1: none). */
  private persistedThrough = -1;
  private sinceSnapshot = 0;
  private snapshotting: Promise<void> | undefined;
  private nextPurgeAt = 0;
  private readonly now: () => number;

  private constructor(
    private readonly path: string,
    private readonly options: DeduplicationOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.idle = new LRUCache<string, number>({
      max: options.maxIdleProducers ?? MAX_IDLE_PRODUCERS,
      dispose: (_idleSince, producer, reason) => {
        if (reason === 'evict') this.forget(producer);
      },
    });
  }

  private get logger(): Logger {
    return this.options.logger;
  }

  /** Loads the snapshot, then replays only the stored entries after it. */
  static async load(path: string, options: DeduplicationOptions): Promise<DeduplicationState> {
    const state = new DeduplicationState(path, options);
    const { log, logger } = options;
    await log.drained();
    const loadedAt = state.now();
    let start = log.firstOrdinal;
    const snapshot = await readSnapshot(path, logger);
    // When a producer went idle is known for those idle at the snapshot and silent since; for the
    // others it is now, as Pulsar counts from when it recovers the state.
    const idleSince = new Map<string, number>();
    if (snapshot !== undefined) {
      for (const [producer, sequenceId] of Object.entries(snapshot.producers)) {
        state.producers.set(producer, { accepted: sequenceId, persisted: sequenceId, inFlight: 0 });
        idleSince.set(producer, snapshot.idleSince?.[producer] ?? loadedAt);
      }
      start = Math.max(start, log.firstOrdinalAfter(snapshot.position));
    }
    const end = log.length;
    for (let ordinal = start; ordinal < end; ordinal++) {
      let message: StoredMessage;
      try {
        ({ message } = await log.read(ordinal));
      } catch (error) {
        // Deleted meanwhile, or damaged on disk (the log reports it): its sequence id is lost.
        if (error instanceof EntryDeletedError) continue;
        throw error;
      }
      const { producerName, sequenceId } = message;
      const producer = state.producers.get(producerName);
      if (producer === undefined) {
        state.producers.set(producerName, { accepted: sequenceId, persisted: sequenceId, inFlight: 0 });
      } else {
        producer.persisted = Math.max(producer.persisted, sequenceId);
        producer.accepted = producer.persisted;
      }
      idleSince.set(producerName, loadedAt);
    }
    state.persistedThrough = end - 1;
    const idle = [...idleSince].filter(([producer]) => !options.isConnected(producer));
    for (const [producer, since] of idle.sort((a, b) => a[1] - b[1])) state.idle.set(producer, since);
    state.purge(loadedAt);
    logger.debug(
      { replayed: end - start, fromSnapshot: snapshot !== undefined, producers: state.producers.size },
      'deduplication state loaded',
    );
    return state;
  }

  /**
   * Accepts a publish for storing (true), or not (false) when its sequence id is not above the
   * highest accepted for its producer: a duplicate, or the copy of one still being stored; once the
   * appends before it are done, {@link isStored} tells which.
   */
  accept(producer: string, sequenceId: number): boolean {
    let state = this.producers.get(producer);
    if (state === undefined) {
      state = { accepted: -1, persisted: -1, inFlight: 0 };
      this.producers.set(producer, state);
    }
    if (sequenceId <= state.accepted) return false;
    state.accepted = sequenceId;
    state.inFlight++;
    return true;
  }

  /** The highest sequence id stored for `producer` (-1: none, or forgotten after inactivity). */
  lastSequenceId(producer: string): number {
    return this.producers.get(producer)?.persisted ?? -1;
  }

  /** True once a message of this producer with this sequence id (or a later one) is stored. */
  isStored(producer: string, sequenceId: number): boolean {
    return sequenceId <= (this.producers.get(producer)?.persisted ?? -1);
  }

  /** Records an accepted message that is now durable at `ordinal`; snapshots every so many. */
  persistedAt(ordinal: number, producer: string, sequenceId: number): void {
    const state = this.producers.get(producer);
    if (state !== undefined) state.persisted = Math.max(state.persisted, sequenceId);
    this.settled(producer);
    this.persistedThrough = Math.max(this.persistedThrough, ordinal);
    if (++this.sinceSnapshot >= SNAPSHOT_EVERY_ENTRIES && this.snapshotting === undefined) {
      this.purge(this.now());
      this.snapshot().catch((error: unknown) => {
        // The log still holds the messages, so a missing snapshot only costs a longer replay.
        this.logger.warn({ err: error }, 'deduplication snapshot failed');
      });
    }
  }

  /** Records an accepted message whose append failed: the producer may send it again. */
  failed(producer: string): void {
    this.settled(producer);
  }

  private settled(producer: string): void {
    const state = this.producers.get(producer);
    if (state === undefined) return;
    state.inFlight--;
    // With nothing in flight, only what is stored counts: the sequence ids of failed appends are free.
    if (state.inFlight === 0) {
      state.accepted = state.persisted;
      // Producers that publish without connecting (dead-letter publishes) are idle in between.
      if (!this.options.isConnected(producer)) this.idle.set(producer, this.now());
    }
  }

  /** A producer of this name connected: its state is kept for as long as it stays. */
  producerConnected(producer: string): void {
    this.idle.delete(producer);
  }

  /** A producer of this name disconnected: its state is kept for the inactivity timeout. */
  producerDisconnected(producer: string): void {
    const now = this.now();
    if (this.producers.has(producer)) this.idle.set(producer, now);
    this.purge(now);
  }

  /** Forgets producers idle for longer than the timeout; runs every third of it at most. */
  private purge(now: number): void {
    if (now < this.nextPurgeAt) return;
    const timeout = this.options.producerInactivityTimeoutMillis;
    this.nextPurgeAt = now + timeout / 3;
    const expired: string[] = [];
    for (const producer of this.idle.rkeys()) {
      if ((this.idle.peek(producer) ?? now) > now - timeout) break;
      expired.push(producer);
    }
    for (const producer of expired) {
      this.idle.delete(producer);
      this.forget(producer);
    }
    if (expired.length > 0) this.logger.debug({ producers: expired.length }, 'forgot inactive producers');
  }

  private forget(producer: string): void {
    const state = this.producers.get(producer);
    if (state !== undefined && state.inFlight === 0 && !this.options.isConnected(producer)) {
      this.producers.delete(producer);
    }
  }

  /** Producers whose state is kept (connected, idle, or with appends in flight). */
  get producerCount(): number {
    return this.producers.size;
  }

  /** Writes the durable state with the position it covers. */
  snapshot(): Promise<void> {
    this.snapshotting ??= this.writeSnapshot().finally(() => (this.snapshotting = undefined));
    return this.snapshotting;
  }

  private async writeSnapshot(): Promise<void> {
    if (this.persistedThrough < 0) return;
    const producers: Record<string, number> = {};
    const idleSince: Record<string, number> = {};
    for (const [producer, state] of this.producers) {
      if (state.persisted < 0) continue;
      producers[producer] = state.persisted;
      const since = this.idle.peek(producer);
      if (since !== undefined) idleSince[producer] = since;
    }
    const file: SnapshotFile = {
      version: 1,
      position: this.options.log.positionOf(this.persistedThrough),
      producers,
      idleSince,
    };
    this.sinceSnapshot = 0;
    await mkdir(dirname(this.path), { recursive: true });
    await writeFileAtomic(this.path, JSON.stringify(file));
  }
}

async function readSnapshot(path: string, logger: Logger): Promise<SnapshotFile | undefined> {
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as SnapshotFile;
  } catch (error) {
    // Written atomically, so this is outside damage; the stored messages still tell the state.
    logger.warn({ err: error, path }, 'unreadable deduplication snapshot; replaying the topic instead');
    return undefined;
  }
}

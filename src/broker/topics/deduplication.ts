/**
 * A topic's message deduplication state: the highest sequence id per producer name, as Pulsar's
 * MessageDeduplication keeps it. Pulsar snapshots it into a cursor of the managed ledger; here a
 * snapshot file sits with the subscription cursors (`subscriptions/pulsar.dedup.snapshot`) and records
 * the log position it covers, so loading the state reads only the entries written after it, not the
 * whole topic. Retention may delete what the snapshot covers.
 *
 * Two maps: `accepted` answers "is this a duplicate?" the moment a publish arrives; `persisted` only
 * holds what is durable, and is what snapshots store, so a crash never leaves a snapshot claiming a
 * sequence id whose message was lost (the producer's resend would be dropped as a duplicate).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../fs/atomic-file.js';
import type { Position } from '../storage/cursor-store.js';
import type { MessageLog } from '../storage/message-log.js';

interface SnapshotFile {
  readonly version: 1;
  /** Every entry up to and including this position is reflected in `producers`. */
  readonly position: Position;
  readonly producers: Record<string, number>;
}

/** Pulsar's `brokerDeduplicationEntriesInterval`: a snapshot every this many stored messages. */
const SNAPSHOT_EVERY_ENTRIES = 1000;

export class DeduplicationState {
  private readonly accepted = new Map<string, number>();
  private readonly persisted = new Map<string, number>();
  /** The last ordinal reflected in `persisted` (-1: none). */
  private persistedThrough = -1;
  private sinceSnapshot = 0;
  private snapshotting: Promise<void> | undefined;

  private constructor(
    private readonly path: string,
    private readonly log: MessageLog,
    private readonly logger: Logger,
  ) {}

  /** Loads the snapshot, then replays only the stored entries after it. */
  static async load(path: string, log: MessageLog, logger: Logger): Promise<DeduplicationState> {
    const state = new DeduplicationState(path, log, logger);
    await log.drained();
    let start = log.firstOrdinal;
    const snapshot = await readSnapshot(path, logger);
    if (snapshot !== undefined) {
      for (const [producer, sequenceId] of Object.entries(snapshot.producers)) {
        state.accepted.set(producer, sequenceId);
        state.persisted.set(producer, sequenceId);
      }
      start = Math.max(start, log.firstOrdinalAfter(snapshot.position));
    }
    const end = log.length;
    for (let ordinal = start; ordinal < end; ordinal++) {
      const { message } = await log.read(ordinal);
      state.raise(state.accepted, message.producerName, message.sequenceId);
      state.raise(state.persisted, message.producerName, message.sequenceId);
    }
    state.persistedThrough = end - 1;
    logger.debug(
      { replayed: end - start, fromSnapshot: snapshot !== undefined },
      'deduplication state loaded',
    );
    return state;
  }

  private raise(map: Map<string, number>, producer: string, sequenceId: number): void {
    map.set(producer, Math.max(map.get(producer) ?? -1, sequenceId));
  }

  /** True when the message is a duplicate; otherwise records it as accepted. */
  isDuplicate(producer: string, sequenceId: number): boolean {
    if (sequenceId <= (this.accepted.get(producer) ?? -1)) return true;
    this.accepted.set(producer, sequenceId);
    return false;
  }

  /** Records a message that is now durable at `ordinal`; snapshots every so many. */
  persistedAt(ordinal: number, producer: string, sequenceId: number): void {
    this.raise(this.persisted, producer, sequenceId);
    this.persistedThrough = Math.max(this.persistedThrough, ordinal);
    if (++this.sinceSnapshot >= SNAPSHOT_EVERY_ENTRIES && this.snapshotting === undefined) {
      this.snapshot().catch((error: unknown) => {
        // The log still holds the messages, so a missing snapshot only costs a longer replay.
        this.logger.warn({ err: error }, 'deduplication snapshot failed');
      });
    }
  }

  /** Writes the durable state with the position it covers. */
  snapshot(): Promise<void> {
    this.snapshotting ??= this.writeSnapshot().finally(() => (this.snapshotting = undefined));
    return this.snapshotting;
  }

  private async writeSnapshot(): Promise<void> {
    if (this.persistedThrough < 0) return;
    const file: SnapshotFile = {
      version: 1,
      position: this.log.positionOf(this.persistedThrough),
      producers: Object.fromEntries(this.persisted),
    };
    this.sinceSnapshot = 0;
    await mkdir(dirname(this.path), { recursive: true });
    await writeFileAtomic(this.path, JSON.stringify(file));
  }
}

async function readSnapshot(path: string, logger: Logger): Promise<SnapshotFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as SnapshotFile;
  } catch (error) {
    // Written atomically, so this is outside damage; the stored messages still tell the state.
    logger.warn({ err: error, path }, 'unreadable deduplication snapshot; replaying the topic instead');
    return undefined;
  }
}

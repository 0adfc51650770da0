/**
 * The exactly-once state of a file sink: how many bytes of the output file are complete and durable,
 * and, for each topic-partition, the id of the last message in them, written atomically and durably
 * (src/fs/atomic-file.ts) when the sink opens (before it writes anything), after each fsync of the
 * output (before the messages it covers are acknowledged) and for each new file a rotation starts.
 *
 * File: `<output>.state.json` next to the output file, JSON:
 * `{ "version": 2, "subscription": "…", "dev": <n>, "ino": <n>, "offset": <bytes>, "positions": { "<topic>": "<base64 id>", … } }`
 * where each `<topic>` is a full topic name, a partition's own (`…/t-partition-2`) for a
 * partitioned topic; a topic appears once a first message of it was written.
 * On start the output is cut back to `offset` (what was written after it was never acknowledged and
 * comes again; a file other than `dev`/`ino`, made by a rotation after the state was saved, is cut
 * to 0 for the same reason), and redelivered messages at or before their topic-partition's position
 * are acknowledged without being written again. That is sound when each topic-partition's messages
 * come in id order: Exclusive and Failover subscriptions, of any number of topics and partitions.
 *
 * Version 1 (before multi-topic and partitioned outputs) held one position for one topic:
 * `{ "version": 1, "topic": "…", "subscription": "…", "dev", "ino", "offset", "lastMessageId": "…" }`.
 * It is read as a version 2 state whose only position is that topic's; the next save writes version 2.
 */
import { readFile } from 'node:fs/promises';
import { ConnectorError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-file.js';
import { compareMessageIds, decodeMessageId, type MessageIdData } from '../protocol/index.js';

export const STATE_SUFFIX = '.state.json';

/**
 * Topic-partitions a state holds a position for, at most: a state is rewritten whole after every
 * fsync, so it must stay small.
 */
export const MAX_STATE_POSITIONS = 10_000;

export interface SinkState {
  readonly version: 2;
  readonly subscription: string;
  /** The output file the state describes (a rotation makes a new one). */
  readonly dev: number;
  readonly ino: number;
  /** Bytes of the output file that are complete, fsynced, and hold every message up to the positions. */
  readonly offset: number;
  /** Base64 id of the last message written before `offset`, by topic-partition (full name). */
  readonly positions: Readonly<Record<string, string>>;
}

/** A state as read: `upgraded` when the file holds version 1 (the sink rewrites it before writing). */
export interface ReadSinkState extends SinkState {
  readonly upgraded: boolean;
}

/** Version 1, one topic's position (read only). */
interface SinkStateV1 {
  readonly version: 1;
  readonly topic: string;
  readonly subscription: string;
  readonly dev: number;
  readonly ino: number;
  readonly offset: number;
  readonly lastMessageId?: string;
}

/** Which subscription the output is exactly-once for. */
export interface ExactlyOnceOptions {
  readonly subscription: string;
  /**
   * The topic of messages that do not say theirs (consumer streams' messages carry `topic`); with a
   * partitioned topic, the partition comes from the message id.
   */
  readonly topic?: string;
  /** @default `<output path>.state.json` */
  readonly statePath?: string;
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** Checks a parsed state (either version) and returns it as version 2. @throws Error naming what is wrong. */
function upgrade(parsed: unknown): ReadSinkState {
  const state = parsed as Partial<SinkStateV1> & Partial<Omit<SinkState, 'version'>> & { version?: unknown };
  if (typeof state !== 'object' || state === null) throw new Error('not an object');
  if (!isCount(state.offset) || !isCount(state.dev) || !isCount(state.ino))
    throw new Error('bad offset, dev or ino');
  if (typeof state.subscription !== 'string') throw new Error('bad subscription');
  let positions: Record<string, string>;
  if (state.version === 1) {
    if (typeof state.topic !== 'string') throw new Error('bad topic');
    positions = state.lastMessageId === undefined ? {} : { [state.topic]: state.lastMessageId };
  } else if (state.version === 2) {
    if (typeof state.positions !== 'object' || state.positions === null) throw new Error('bad positions');
    positions = { ...state.positions };
  } else {
    throw new Error(`unknown version ${JSON.stringify(state.version)}`);
  }
  for (const [topic, id] of Object.entries(positions)) {
    if (typeof id !== 'string') throw new Error(`bad position of ${topic}`);
    decodeMessageId(id);
  }
  return {
    version: 2,
    subscription: state.subscription,
    dev: state.dev,
    ino: state.ino,
    offset: state.offset,
    positions,
    upgraded: state.version === 1,
  };
}

/**
 * The state at `path`, or undefined when there is none.
 * A version 1 state is read as version 2. Its topic is not checked: positions are per topic, so an
 * output may take more topics (or others) than it did.
 * @throws ConnectorError when it is unreadable, malformed, or for another subscription.
 */
export async function readSinkState(
  path: string,
  expected: ExactlyOnceOptions,
): Promise<ReadSinkState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConnectorError('file', `cannot read state file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let state: ReadSinkState;
  try {
    state = upgrade(JSON.parse(text));
  } catch (error) {
    throw new ConnectorError(
      'file',
      `state file ${path} is malformed (${(error as Error).message}); remove it to start the output over`,
      { cause: error },
    );
  }
  if (state.subscription !== expected.subscription) {
    throw new ConnectorError(
      'file',
      `state file ${path} is for subscription ${state.subscription}, not ${expected.subscription}; use another output file, or remove the state file to start over`,
    );
  }
  return state;
}

/** Where the exactly-once state of the output `path` is kept. */
export function statePathOf(path: string, settings: ExactlyOnceOptions): string {
  return settings.statePath ?? `${path}${STATE_SUFFIX}`;
}

export function writeSinkState(path: string, state: SinkState): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(state)}\n`);
}

/** Messages at or before `last` were written already. */
export function isAtOrBefore(id: MessageIdData, last: MessageIdData): boolean {
  return compareMessageIds(id, last) <= 0;
}

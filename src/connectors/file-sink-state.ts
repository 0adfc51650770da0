/**
 * The exactly-once state of a file sink: how many bytes of the output file are complete and durable,
 * and the id of the last message in them, written atomically and durably (src/fs/atomic-file.ts)
 * when the sink opens (before it writes anything), after each fsync of the output (before the
 * messages it covers are acknowledged) and for each new file a rotation starts.
 *
 * File: `<output>.state.json` next to the output file, JSON:
 * `{ "version": 1, "topic": "…", "subscription": "…", "dev": <n>, "ino": <n>, "offset": <bytes>, "lastMessageId": "<base64 id>" }`
 * (`lastMessageId` absent until a first message was written).
 * On start the output is cut back to `offset` (what was written after it was never acknowledged and
 * comes again; a file other than `dev`/`ino`, made by a rotation after the state was saved, is cut
 * to 0 for the same reason), and redelivered messages at or before `lastMessageId` are acknowledged
 * without being written again. That is only sound when messages come in id order: one
 * non-partitioned topic on an Exclusive or Failover subscription.
 */
import { readFile } from 'node:fs/promises';
import { ConnectorError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-file.js';
import { compareMessageIds, decodeMessageId, type MessageIdData } from '../protocol/index.js';

export const STATE_SUFFIX = '.state.json';

export interface SinkState {
  readonly version: 1;
  readonly topic: string;
  readonly subscription: string;
  /** The output file the state describes (a rotation makes a new one). */
  readonly dev: number;
  readonly ino: number;
  /** Bytes of the output file that are complete, fsynced, and hold every message up to `lastMessageId`. */
  readonly offset: number;
  /** Base64 id of the last message written before `offset`; absent when none was written yet. */
  readonly lastMessageId?: string;
}

/** Which subscription the output is exactly-once for. */
export interface ExactlyOnceOptions {
  readonly topic: string;
  readonly subscription: string;
  /** @default `<output path>.state.json` */
  readonly statePath?: string;
}

/**
 * The state at `path`, or undefined when there is none.
 * @throws ConnectorError when it is unreadable, malformed, or for another topic or subscription.
 */
export async function readSinkState(
  path: string,
  expected: ExactlyOnceOptions,
): Promise<SinkState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConnectorError('file', `cannot read state file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let state: SinkState;
  try {
    state = JSON.parse(text) as SinkState;
    if (state.version !== 1 || !Number.isSafeInteger(state.offset) || state.offset < 0)
      throw new Error('bad fields');
    if (state.lastMessageId !== undefined) decodeMessageId(state.lastMessageId);
  } catch (error) {
    throw new ConnectorError('file', `state file ${path} is malformed; remove it to start the output over`, {
      cause: error,
    });
  }
  if (state.topic !== expected.topic || state.subscription !== expected.subscription) {
    throw new ConnectorError(
      'file',
      `state file ${path} is for topic ${state.topic}, subscription ${state.subscription}, not ${expected.topic}, ${expected.subscription}; use another output file, or remove the state file to start over`,
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

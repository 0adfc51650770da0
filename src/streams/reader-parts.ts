/**
 * Which reader sessions a reader stream merges, and where each starts and ends.
 *
 * Pulsar 4.0's WebSocket reader on a partitioned topic's base name is a multi-topics reader that
 * starts at earliest or latest only: any other message id is refused (HTTP 500 "The partitioned
 * topic startMessageId is illegal"), and the admin API has no last message id for a base name. So:
 * - earliest or latest, without `stopAtEnd`: one session on the name, as given (no admin call);
 * - a message id, several ids, or `stopAtEnd`: the partition count is asked of the admin API, and a
 *   partitioned topic is read with one session per partition (`<topic>-partition-N`).
 * Message ids carry their partition. Each id starts (exclusive) the partition it names; a partition
 * no id names starts at earliest (nothing skipped: an id of one partition says nothing of where
 * another stood). This mirrors Pulsar's `seek(TopicMessageId)` on a multi-topics reader, which
 * moves only the id's partition. With `stopAtEnd` each partition ends at its own last message as
 * of the start; an empty partition, or one whose start is at its end, ends at once.
 */
import {
  fetchLastMessageId,
  fetchPartitionCount,
  isTopicNotFound,
  type AdminOptions,
} from '../client/admin.js';
import { readerUrl, type ReaderParamOptions, type StartMessageId } from '../client/endpoints.js';
import type { StreamSession } from '../client/stream-session.js';
import { InvalidArgumentError } from '../errors.js';
import {
  decodeMessageId,
  partitionTopicName,
  positionOfMessageId,
  type MessageIdData,
  type TopicName,
} from '../protocol/index.js';
import { reachesEnd, ReaderSessionStream } from './reader-session-stream.js';

/** Where a reader starts: one position for the whole topic, or message ids each naming its partition. */
export type ReaderStart = StartMessageId | readonly string[];

/** What opening the sessions needs from the client. */
export interface ReaderPartsContext {
  readonly serviceUrl: string;
  /** Token, TLS and the time bounds of the admin calls (the client's handshake and connect timeouts). */
  readonly admin: AdminOptions;
  readonly params: ReaderParamOptions;
  readonly highWaterMark: number;
  readonly stopAtEnd: boolean;
  /** A session on `topic` that asks for its URL at every connection attempt. */
  readonly session: (topic: TopicName, url: () => string) => StreamSession;
}

/**
 * A partition's window (buffered plus in transit): the high-water mark shared out, at least 1. So
 * the sessions together hold up to `max(highWaterMark, partitions)` messages (rounded up per
 * partition): a topic with more partitions than the high-water mark gets 1 per partition.
 */
export function partitionWindow(highWaterMark: number, partitions: number): number {
  return Math.max(1, Math.ceil(highWaterMark / Math.max(1, partitions)));
}

const isPosition = (start: string): boolean => start === 'earliest' || start === 'latest';

/**
 * Checks `startMessageId` before anything connects: 'earliest', 'latest', a message id, or a
 * non-empty list of message ids of distinct partitions.
 */
export function checkReaderStart(serviceUrl: string, topic: TopicName, start: ReaderStart): void {
  if (typeof start === 'string') {
    readerUrl(serviceUrl, topic, start, { receiverQueueSize: 1 });
    return;
  }
  if (!Array.isArray(start) || start.length === 0) {
    throw new InvalidArgumentError(
      `expected \`startMessageId\` to be 'earliest', 'latest', a message id or a non-empty list of message ids, got ${JSON.stringify(start)}`,
    );
  }
  const seen = new Set<number>();
  for (const id of start) {
    if (typeof id !== 'string' || isPosition(id)) {
      throw new InvalidArgumentError(
        `expected each \`startMessageId\` of a list to be a message id (one per partition), got ${JSON.stringify(id)}`,
      );
    }
    readerUrl(serviceUrl, topic, id, { receiverQueueSize: 1 });
    const { partition } = decodeMessageId(id);
    // Ids naming no partition are judged once the topic's partition count is known.
    if (partition >= 0 && seen.has(partition)) {
      throw new InvalidArgumentError(
        `expected the \`startMessageId\` list to name each partition once; partition ${partition} is named twice (${id})`,
      );
    }
    seen.add(partition);
  }
}

/** Whether the server cannot serve this start or end itself on a partitioned base name. */
function needsPartitionCount(topic: TopicName, start: ReaderStart, stopAtEnd: boolean): boolean {
  if (topic.partitionIndex >= 0) return false;
  return stopAtEnd || typeof start !== 'string' || !isPosition(start);
}

/** The start of a topic read by one session. */
function singleStart(topic: TopicName, start: ReaderStart): StartMessageId {
  if (typeof start === 'string') return start;
  const [only, ...others] = start;
  if (only === undefined || others.length > 0) {
    throw new InvalidArgumentError(
      `${topic.fullName} is not partitioned: expected one start message id, got ${start.length}`,
    );
  }
  return only;
}

/** The start of each partition of a topic with `partitions` partitions. */
export function partitionStarts(topic: TopicName, start: ReaderStart, partitions: number): StartMessageId[] {
  if (typeof start === 'string' && isPosition(start)) return Array.from({ length: partitions }, () => start);
  const starts: StartMessageId[] = Array.from({ length: partitions }, () => 'earliest');
  for (const id of typeof start === 'string' ? [start] : start) {
    const { partition } = decodeMessageId(id);
    if (partition < 0 || partition >= partitions) {
      throw new InvalidArgumentError(
        partition < 0
          ? `start message id ${id} names no partition, but ${topic.fullName} has ${partitions} partitions: give ids this topic delivered (each names its partition)`
          : `start message id ${id} names partition ${partition}, but ${topic.fullName} has ${partitions} partitions`,
      );
    }
    starts[partition] = id;
  }
  return starts;
}

/** The id a session from `start` ends after, or null when there is nothing to read (as of now). */
async function endOf(
  context: ReaderPartsContext,
  topic: TopicName,
  start: StartMessageId,
  partition: boolean,
  signal: AbortSignal,
): Promise<MessageIdData | null> {
  let last: MessageIdData | null;
  try {
    last = await fetchLastMessageId(context.serviceUrl, topic, { ...context.admin, signal });
  } catch (error) {
    // A partition nothing was ever published to may not exist yet as a topic: it is empty.
    if (partition && isTopicNotFound(error)) return null;
    throw error;
  }
  if (last === null || start === 'latest') return null;
  if (start !== 'earliest' && reachesEnd(decodeMessageId(start), last)) return null;
  return last;
}

/** One session on `topic` from `start`, resuming after its last message when it reconnects. */
function openSession(
  context: ReaderPartsContext,
  topic: TopicName,
  start: StartMessageId,
  window: number,
  partition = false,
): ReaderSessionStream {
  const params = { ...context.params, receiverQueueSize: window };
  const initialUrl = readerUrl(context.serviceUrl, topic, start, params);
  const created: { stream?: ReaderSessionStream } = {};
  const url = (): string => {
    const resume = created.stream?.resumeFrom;
    return resume === undefined ? initialUrl : readerUrl(context.serviceUrl, topic, resume, params);
  };
  const stream = new ReaderSessionStream(context.session(topic, url), {
    highWaterMark: window,
    topic: topic.fullName,
    mergesPartitions: topic.partitionIndex < 0 && (start === 'earliest' || start === 'latest'),
    ...(context.stopAtEnd
      ? { until: (signal: AbortSignal) => endOf(context, topic, start, partition, signal) }
      : {}),
  });
  created.stream = stream;
  return stream;
}

/** Pulsar's `MessageId.earliest` or `MessageId.latest` as a message id means that position. */
function positionOf(start: ReaderStart): ReaderStart {
  if (typeof start !== 'string' || isPosition(start)) return start;
  return positionOfMessageId(decodeMessageId(start)) ?? start;
}

/**
 * The sessions a reader of `topic` from `start` merges (asks the admin API when it must, retrying
 * within the client's connect timeout; aborting `signal` stops that).
 */
export function readerParts(
  context: ReaderPartsContext,
  topic: TopicName,
  given: ReaderStart,
): (signal: AbortSignal) => Promise<readonly ReaderSessionStream[]> {
  const start = positionOf(given);
  if (!needsPartitionCount(topic, start, context.stopAtEnd)) {
    return () =>
      Promise.resolve([openSession(context, topic, singleStart(topic, start), context.highWaterMark)]);
  }
  return async (signal) => {
    const partitions = await fetchPartitionCount(context.serviceUrl, topic, { ...context.admin, signal });
    if (partitions === 0) {
      return [openSession(context, topic, singleStart(topic, start), context.highWaterMark)];
    }
    const window = partitionWindow(context.highWaterMark, partitions);
    return partitionStarts(topic, start, partitions).map((partitionStart, index) =>
      openSession(context, partitionTopicName(topic, index), partitionStart, window, true),
    );
  };
}

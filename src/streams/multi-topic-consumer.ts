/**
 * A consumer of several topics, or of the topics matching a pattern, as one `Readable` (objectMode).
 *
 * Pulsar's WebSocket multi-topic endpoint does not say which topic a message came from, so this
 * stream opens one consumer session per topic (a partitioned topic is one session; the message id
 * names the partition) and merges them, taking a message from each session in turn. Each message
 * carries its `topic` and is acknowledged on its own session, as with a single topic.
 *
 * Window: each session has `max(1, ceil(highWaterMark / N))` messages of window (buffered plus asked
 * of the server), N being the number of topics when the session opens; the merged stream buffers at
 * most `MERGE_HIGH_WATER_MARK` more. A pattern that grows adds sessions with the share of the then
 * larger N, and sessions keep their window, so what the stream holds stays within
 * `highWaterMark × (1 + ln N)` messages.
 *
 * Patterns: the namespace is listed through the admin API when the stream opens (a failure fails the
 * stream) and again every `patternAutoDiscoveryPeriodMs`: new matching topics are subscribed, and
 * the sessions of topics no longer listed are closed (as Pulsar's pattern consumer does). A failed
 * re-discovery is logged and tried again at the next period.
 *
 * Errors: a session that fails (a 403 on one topic, a topic that cannot be consumed) fails the whole
 * stream with its error, its message naming the topic; except, with a pattern, when the topic is no
 * longer listed (deleted): its session is then dropped and the stream goes on.
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { NamespaceTopics } from '../client/admin.js';
import { InvalidArgumentError } from '../errors.js';
import { isConsumerMessage, type ConsumerMessage } from './consumer-message.js';
import type { AckMode, ConsumerStream } from './consumer-stream.js';
import { RoundRobin } from './round-robin.js';
import { MAX_CONSUMER_TOPICS, matchingTopics, type TopicPattern } from './topic-selection.js';

/** Messages the merged stream buffers on top of its sessions' windows. */
const MERGE_HIGH_WATER_MARK = 16;

/** Pulsar's `patternAutoDiscoveryPeriod` default: one minute. */
export const DEFAULT_PATTERN_DISCOVERY_PERIOD_MS = 60_000;

export interface PatternDiscovery {
  readonly pattern: TopicPattern;
  /** Lists the pattern's namespace (the admin API); aborting `signal` (the stream destroyed) gives it up. */
  readonly list: (signal: AbortSignal) => Promise<NamespaceTopics>;
  readonly periodMs: number;
}

export interface MultiTopicConsumerOptions {
  /** Fixed topics (full names); or `discovery` for a pattern. */
  readonly topics?: readonly string[];
  readonly discovery?: PatternDiscovery;
  readonly highWaterMark: number;
  readonly ackMode: AckMode;
  /** Opens one topic's session with `window` messages of window; it acknowledges as `ackMode` says. */
  readonly open: (topic: string, window: number, ackMode: AckMode) => ConsumerStream;
  readonly logger: Logger;
}

/** The window of a session opened when the stream has `topics` topics. */
export function sessionWindow(highWaterMark: number, topics: number): number {
  return Math.max(1, Math.ceil(highWaterMark / Math.max(1, topics)));
}

/** Puts the topic in front of an error's message (keeping its class and code) unless it names it already. */
function naming(topic: string, error: Error): Error {
  if (!error.message.includes(topic)) error.message = `${topic}: ${error.message}`;
  return error;
}

export class MultiTopicConsumerStream extends Readable {
  /** The open sessions by topic, in the order they are read from. */
  private readonly parts = new Map<string, ConsumerStream>();
  /** A push may close a session (a pattern's topic dropped): the merge then reads from those still open. */
  private readonly merge = new RoundRobin<ConsumerStream>(
    () => [...this.parts.values()],
    () => this.parts.size,
    (item, part) => {
      if (isConsumerMessage(item)) this.unread.set(item, part);
      return this.push(item);
    },
  );
  /** Pushed into this stream's buffer and not yet handed out, with the session they came from. */
  private readonly unread = new Map<ConsumerMessage, ConsumerStream>();
  private readonly ackOnRead: boolean;
  private discoveryTimer: NodeJS.Timeout | undefined;
  private discovering: Promise<void> | undefined;
  private permitsStopped = false;
  /** Aborted on destroy: a namespace listing in progress (with its retries) is given up. */
  private readonly destroying = new AbortController();

  constructor(private readonly options: MultiTopicConsumerOptions) {
    super({ objectMode: true, highWaterMark: MERGE_HIGH_WATER_MARK });
    this.ackOnRead = options.ackMode === 'on-read';
  }

  /** The topics (full base names) the stream has a session for. */
  get topics(): string[] {
    return [...this.parts.keys()];
  }

  /** Messages asked of the server and not yet received, over all sessions. */
  get permitsOutstanding(): number {
    let total = 0;
    for (const part of this.parts.values()) total += part.permitsOutstanding;
    return total;
  }

  /** Asks the server for nothing more on any session, including those a pattern opens later (a drain). */
  stopPermits(): void {
    this.permitsStopped = true;
    for (const part of this.parts.values()) part.stopPermits();
  }

  override _construct(callback: (error?: Error | null) => void): void {
    const { topics, discovery } = this.options;
    if (discovery === undefined) {
      for (const topic of topics ?? []) this.openPart(topic, topics?.length ?? 1);
      callback();
      return;
    }
    this.discover().then(
      () => {
        if (this.parts.size === 0) {
          this.options.logger.warn(
            { pattern: discovery.pattern.source, periodMs: discovery.periodMs },
            'no topic matches the pattern yet; the namespace is listed again every period',
          );
        }
        this.discoveryTimer = setInterval(() => {
          this.discover().catch((error: unknown) => {
            if (this.destroying.signal.aborted) return;
            this.options.logger.warn(
              { err: error, pattern: discovery.pattern.source },
              'topic discovery failed; trying again at the next period',
            );
          });
        }, discovery.periodMs);
        callback();
      },
      // Destroyed during the first listing: its AbortError is not the stream's error.
      (error: unknown) => callback(this.destroying.signal.aborted ? null : (error as Error)),
    );
  }

  /** A destroy during construction gives up the namespace listing at once, not after its retries. */
  override destroy(error?: Error): this {
    this.destroying.abort();
    return super.destroy(error);
  }

  /** Lists the namespace; opens sessions for new matching topics, closes those of topics gone. */
  private discover(): Promise<void> {
    this.discovering ??= this.discoverOnce().finally(() => (this.discovering = undefined));
    return this.discovering;
  }

  private async discoverOnce(): Promise<void> {
    const discovery = this.options.discovery;
    if (discovery === undefined) return;
    const found = matchingTopics(discovery.pattern, await discovery.list(this.destroying.signal));
    if (this.destroyed) return;
    if (found.length > MAX_CONSUMER_TOPICS) {
      throw new InvalidArgumentError(
        `topicsPattern ${discovery.pattern.source} matches ${found.length} topics; one consumer takes at most ${MAX_CONSUMER_TOPICS}`,
      );
    }
    const listed = new Set(found);
    for (const topic of [...this.parts.keys()]) {
      if (listed.has(topic)) continue;
      this.options.logger.info({ topic }, 'topic no longer matches or exists: its session is closed');
      this.closePart(topic);
    }
    for (const topic of found) {
      if (!this.parts.has(topic)) {
        this.options.logger.info(
          { topic, pattern: discovery.pattern.source },
          'subscribing to a matching topic',
        );
        this.openPart(topic, found.length);
      }
    }
  }

  private openPart(topic: string, topicCount: number): void {
    const window = sessionWindow(this.options.highWaterMark, topicCount);
    const part = this.options.open(topic, window, this.ackOnRead ? 'manual' : this.options.ackMode);
    this.parts.set(topic, part);
    if (this.permitsStopped) part.stopPermits();
    part.on('state', (state: string, error?: Error) => this.emit('state', state, error, topic));
    part.on('readable', () => this.drain());
    part.on('error', (error: Error) => this.onPartError(topic, part, error));
    part.on('close', () => {
      if (this.parts.get(topic) === part) this.parts.delete(topic);
    });
  }

  private closePart(topic: string): void {
    const part = this.parts.get(topic);
    if (part === undefined) return;
    this.parts.delete(topic);
    this.releaseUnread(part);
    part.destroy();
  }

  private onPartError(topic: string, part: ConsumerStream, error: Error): void {
    if (this.destroyed || this.parts.get(topic) !== part) return;
    if (this.options.discovery === undefined) {
      this.destroy(naming(topic, error));
      return;
    }
    // A topic deleted under a pattern consumer ends its session: that is no failure.
    this.parts.delete(topic);
    this.releaseUnread(part);
    this.discover().then(
      () => {
        if (this.destroyed) return;
        if (this.parts.has(topic)) this.destroy(naming(topic, error));
        else this.options.logger.info({ topic, err: error }, 'the session of a topic no longer listed ended');
      },
      (discoveryError: unknown) => {
        this.options.logger.warn({ err: discoveryError }, 'topic discovery failed after a session error');
        this.destroy(naming(topic, error));
      },
    );
  }

  override _read(): void {
    if (!this.destroyed) this.merge.want();
  }

  /** Moves messages from the sessions, one from each in turn, while this stream wants more. */
  private drain(): void {
    if (!this.destroyed) this.merge.drain();
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') {
      const item = args[0];
      if (isConsumerMessage(item)) {
        this.unread.delete(item);
        if (this.ackOnRead) item.ack();
      }
    }
    return super.emit(event, ...args);
  }

  /** Messages of `part` still in this stream's buffer will not be handed out: its close does not wait for them. */
  private releaseUnread(part: ConsumerStream): void {
    for (const [message, origin] of this.unread) {
      if (origin !== part) continue;
      origin.release(message.messageId);
      this.unread.delete(message);
    }
  }

  /**
   * Closes every session: on a stop (no error, or an `AbortError`) each keeps its close grace for the
   * acks of what was handed downstream; on a failure they close at once.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearInterval(this.discoveryTimer);
    for (const [message, origin] of this.unread) origin.release(message.messageId);
    this.unread.clear();
    const stopped = error === null || error.name === 'AbortError';
    const parts = [...this.parts.values()];
    this.parts.clear();
    Promise.all(
      parts.map(
        (part) =>
          new Promise<void>((resolve) => {
            if (part.closed) {
              resolve();
              return;
            }
            part.once('close', () => resolve());
            // The merged stream's error is the one reported; the sessions' own are not.
            part.on('error', () => undefined);
            part.destroy(stopped ? undefined : new Error('the multi-topic consumer failed'));
          }),
      ),
    ).then(
      () => callback(error),
      () => callback(error),
    );
  }
}

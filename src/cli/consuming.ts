/**
 * What the consuming commands (`consume`, `topic-to-file`, `topic-to-s3`) share: their flags (the
 * topics: --topic, repeatable, or --topics-pattern), the --count / --idle-exit limits, the
 * --receiver-queue-size window (`read` takes it too), and the pipeline from a subscription into a sink.
 */
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Argv } from 'yargs';
import { SINK_FORMATS, type SinkFormat } from '../connectors/sink-format.js';
import { InvalidArgumentError, type ConsumerMessage } from '../index.js';
import {
  INITIAL_POSITIONS,
  SUBSCRIPTION_TYPES,
  type InitialPosition,
  type SubscriptionType,
} from '../protocol/index.js';
import {
  consumerDecryptionFromArgs,
  keyErrorAsUsage,
  withDecryptOptions,
  type DecryptArgs,
} from './encryption-flags.js';
import { PIPE_RECEIVER_QUEUE_SIZE } from '../streams/consumer-stream.js';
import {
  DEFAULT_PATTERN_DISCOVERY_PERIOD_MS,
  MultiTopicConsumerStream,
} from '../streams/multi-topic-consumer.js';
import { parseTopicPattern, type TopicSelection } from '../streams/topic-selection.js';
import { CliError } from './cli-error.js';
import { clientFromArgs, connectionWatch, withConnectionOptions, type ConnectionArgs } from './connection.js';
import { limit, type LimitOptions } from './limit.js';

export interface ConsumeArgs extends ConnectionArgs, DecryptArgs {
  /** --topic, repeatable (and `consume`'s positional topics). */
  topic: string[] | undefined;
  'topics-pattern': string | undefined;
  'pattern-discovery-period': number;
  subscription: string;
  'subscription-type': SubscriptionType;
  'initial-position': InitialPosition;
  format: SinkFormat;
  count: number | undefined;
  'idle-exit': number | undefined;
  'receiver-queue-size': number;
}

/**
 * Checks --receiver-queue-size: an integer >= 1 (and at most `max`, a reader's cap).
 * @throws CliError (exit 2) naming the flag and the value.
 */
export function checkReceiverQueueSize(value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!(Number.isSafeInteger(value) && value >= 1 && value <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? '>= 1' : `from 1 to ${max}`;
    throw new CliError(`--receiver-queue-size must be an integer ${range}, got ${value}`, 2);
  }
}

/**
 * `--receiver-queue-size N`: the consumer's permit window (messages buffered plus asked of the
 * server), or a reader's `receiverQueueSize` (at most `max`). Checked as argv is parsed, so a bad
 * value exits 2 before anything is opened. Memory: up to N messages.
 */
export function withReceiverQueueSize<T>(yargs: Argv<T>, fallback: number, max?: number) {
  return yargs
    .option('receiver-queue-size', {
      type: 'number',
      default: fallback,
      describe: `Messages buffered plus asked of the server (the window that keeps the pipe full${max === undefined ? '' : `; at most ${max}`}); costs up to N x message size of memory`,
    })
    .check((argv) => {
      // A CliError thrown here reaches the program's fail handler: exit 2 with this message.
      checkReceiverQueueSize(argv['receiver-queue-size'], max);
      return true;
    });
}

/** The flags every consuming command takes. */
export function consumeOptions<T>(yargs: Argv<T>) {
  return withReceiverQueueSize(withDecryptOptions(withConnectionOptions(yargs)), PIPE_RECEIVER_QUEUE_SIZE)
    .option('topic', {
      type: 'string',
      array: true,
      describe: 'Topic (short or full name); repeat for several topics, one session each',
    })
    .option('topics-pattern', {
      type: 'string',
      describe:
        'Every persistent topic matching this regex: persistent://<tenant>/<namespace>/<regex of local names> (or <regex> in public/default); new topics are picked up',
    })
    .option('pattern-discovery-period', {
      type: 'number',
      default: DEFAULT_PATTERN_DISCOVERY_PERIOD_MS / 1000,
      describe: 'With --topics-pattern: list the namespace again every this many seconds',
    })
    .option('subscription', { type: 'string', demandOption: true, describe: 'Subscription name' })
    .option('subscription-type', {
      type: 'string',
      choices: SUBSCRIPTION_TYPES,
      default: 'Exclusive',
      describe: 'How consumers of the subscription share its messages',
    })
    .option('initial-position', {
      type: 'string',
      choices: INITIAL_POSITIONS,
      default: 'Earliest',
      describe: 'Where a new subscription starts',
    })
    .option('format', {
      type: 'string',
      choices: SINK_FORMATS,
      default: 'lines',
      describe: 'lines: payload + newline; ndjson: an envelope per message',
    })
    .option('count', {
      type: 'number',
      describe: 'Exit 0 after this many messages were written and acknowledged',
    })
    .option('idle-exit', { type: 'number', describe: 'Exit 0 after this many seconds with nothing new' });
}

export function checkLimits(args: {
  count: number | undefined;
  'idle-exit': number | undefined;
}): LimitOptions {
  if (args.count !== undefined && !(Number.isSafeInteger(args.count) && args.count >= 0)) {
    throw new CliError(`--count must be an integer >= 0, got ${args.count}`, 2);
  }
  if (args['idle-exit'] !== undefined && !(args['idle-exit'] > 0)) {
    throw new CliError(`--idle-exit must be a number of seconds > 0, got ${args['idle-exit']}`, 2);
  }
  return {
    ...(args.count === undefined ? {} : { count: args.count }),
    ...(args['idle-exit'] === undefined ? {} : { idleMs: args['idle-exit'] * 1000 }),
  };
}

/**
 * The topics to consume: the --topic values (one topic, or a list), or --topics-pattern.
 * @throws CliError (exit 2) for neither or both, an empty topic, or a bad pattern (naming it).
 */
export function topicSelectionOf(
  args: Pick<ConsumeArgs, 'topic' | 'topics-pattern' | 'pattern-discovery-period'>,
): TopicSelection {
  const topics = (args.topic ?? []).map(String);
  const pattern = args['topics-pattern'];
  if (pattern !== undefined && topics.length > 0) {
    throw new CliError('give topics (--topic, repeatable) or --topics-pattern, not both', 2);
  }
  if (pattern !== undefined) {
    try {
      parseTopicPattern(pattern);
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw new CliError(`--topics-pattern: ${error.message}`, 2);
      throw error;
    }
    const period = args['pattern-discovery-period'];
    if (!(Number.isFinite(period) && period > 0)) {
      throw new CliError(`--pattern-discovery-period must be a number of seconds > 0, got ${period}`, 2);
    }
    return { topicsPattern: pattern };
  }
  const empty = topics.find((topic) => topic.trim() === '');
  if (empty !== undefined)
    throw new CliError(`--topic must be a non-empty topic name, got ${JSON.stringify(empty)}`, 2);
  const [first] = topics;
  if (first === undefined) throw new CliError('give a topic (--topic, repeatable) or --topics-pattern', 2);
  return topics.length === 1 ? first : topics;
}

/** How a consuming command's pipeline ends. */
export interface ConsumeEnding {
  /** How long the consumer stays open for the acks of messages the sink still holds, in ms. @default 2000 */
  readonly closeGraceMs?: number;
  /** A signal ends the input as a limit does, so the sink finishes (and acknowledges) what it holds. */
  readonly finishOnSignal?: boolean;
}

/**
 * Consumes `args.subscription` into `sink` until the limits (or the signal) end it, calling
 * `onMessage` for each message on its way. @throws CliError when the consumer never connected.
 */
export async function consumeInto(
  args: ConsumeArgs,
  logger: Logger,
  signal: AbortSignal,
  limits: LimitOptions<ConsumerMessage>,
  sink: Writable,
  onMessage: (message: ConsumerMessage) => void = () => undefined,
  ending: ConsumeEnding = {},
): Promise<void> {
  const client = clientFromArgs(args, logger);
  try {
    const selection = topicSelectionOf(args);
    const source = keyErrorAsUsage(() =>
      client.consumer(selection, args.subscription, {
        highWaterMark: args['receiver-queue-size'],
        subscriptionType: args['subscription-type'],
        subscriptionInitialPosition: args['initial-position'],
        ...consumerDecryptionFromArgs(args),
        ...(ending.closeGraceMs === undefined ? {} : { closeGraceMs: ending.closeGraceMs }),
        ...(typeof selection === 'object' && 'topicsPattern' in selection
          ? { patternAutoDiscoveryPeriodMs: Math.ceil(args['pattern-discovery-period'] * 1000) }
          : {}),
      }),
    );
    const watch = connectionWatch(source, args.url);
    await pipeline(
      source,
      limit<ConsumerMessage>({
        ...limits,
        ...(ending.finishOnSignal === true ? { stop: signal } : {}),
        onMessage,
      }),
      sink,
      ...(ending.finishOnSignal === true ? [] : [{ signal }]),
    );
    // A pattern that matched no topic had no session to connect: nothing to report.
    if (!(source instanceof MultiTopicConsumerStream && source.topics.length === 0)) watch.check();
  } finally {
    await client.close();
  }
}

/**
 * The `topic` source of the sidecar's config: a consumer of one topic, several (`topics`) or every
 * topic matching a pattern (`topicsPattern`), exactly one of the three.
 */
import * as z from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { INITIAL_POSITIONS, SUBSCRIPTION_TYPES } from '../protocol/index.js';
import { PIPE_RECEIVER_QUEUE_SIZE } from '../streams/consumer-stream.js';
import { MAX_CONSUMER_TOPICS, parseTopicPattern } from '../streams/topic-selection.js';
import { duration, receiverQueueSize } from './config-fields.js';

/** A `topicsPattern` the consumer accepts (see src/streams/topic-selection.ts). */
const topicsPattern = z.string().superRefine((text, context) => {
  try {
    parseTopicPattern(text);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    context.addIssue({ code: 'custom', message: error.message });
  }
});

export const topicSource = z.strictObject({
  type: z.literal('topic'),
  topic: z.string().min(1).optional().describe('Topic (short or full name); or topics, or topicsPattern'),
  topics: z
    .array(z.string().min(1))
    .min(1)
    .max(MAX_CONSUMER_TOPICS)
    .optional()
    .describe('Several topics, one session each (each message keeps its topic)'),
  topicsPattern: topicsPattern
    .optional()
    .describe(
      'Every persistent topic matching this regex: persistent://<tenant>/<namespace>/<regex of local names>',
    ),
  patternAutoDiscoveryPeriod: duration('With topicsPattern: list the namespace again this often').prefault(
    '60s',
  ),
  subscription: z.string().min(1).describe('Subscription name'),
  subscriptionType: z.enum(SUBSCRIPTION_TYPES).default('Exclusive').describe('Subscription type'),
  initialPosition: z.enum(INITIAL_POSITIONS).default('Earliest').describe('Where a new subscription starts'),
  receiverQueueSize: receiverQueueSize(undefined, PIPE_RECEIVER_QUEUE_SIZE),
});

/** Exactly one of `topic`, `topics` and `topicsPattern` (the issue's path is the pipeline's). */
export function checkTopicSource(source: z.output<typeof topicSource>, context: z.core.$RefinementCtx): void {
  const given = (['topic', 'topics', 'topicsPattern'] as const).filter((key) => source[key] !== undefined);
  if (given.length === 1) return;
  context.addIssue({
    code: 'custom',
    path: ['source', given[1] ?? 'topic'],
    message:
      given.length === 0
        ? 'a topic source needs topic, topics or topicsPattern'
        : `give one of topic, topics and topicsPattern, not ${given.join(' and ')}`,
  });
}

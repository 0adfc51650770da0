/** The dead-letter topic of a consumer with `maxRedeliverCount`. */
import { parseTopicName, type TopicName } from '../../protocol/index.js';
import type { DeadLetterSink } from '../sessions/consumer-session.js';
import type { HandshakeContext } from './common.js';

/**
 * Where messages go after `maxRedeliverCount` redeliveries: `deadLetterTopic`, or
 * `<topic>-<subscription>-DLQ`, with the properties Pulsar 4.0's client adds.
 */
export function deadLetterSink(
  source: TopicName,
  subscription: string,
  deadLetterTopic: string | undefined,
  context: HandshakeContext,
): DeadLetterSink {
  const target = parseTopicName(deadLetterTopic ?? `${source.fullName}-${subscription}-DLQ`);
  let producerSequence = -1;
  return async (entry) => {
    const dlq = await context.topics.get(target, true);
    const originId = `${entry.ledgerId}:${entry.entryId}:${source.partitionIndex}`;
    await dlq.publish({
      ...entry.message,
      publishTime: Date.now(),
      properties: {
        ...entry.message.properties,
        REAL_TOPIC: source.fullName,
        REAL_SUBSCRIPTION: subscription,
        ORIGIN_MESSAGE_ID: originId,
        // Pulsar 4.0's client really writes this misspelt property too.
        ORIGIN_MESSAGE_IDY_TIME: originId,
      },
      producerName: `${subscription}-DLQ`,
      sequenceId: ++producerSequence,
    });
  };
}

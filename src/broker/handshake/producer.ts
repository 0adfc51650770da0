/** The producer handshake: one topic, a partitioned topic's router, or a non-persistent topic. */
import {
  HandshakeMessagePrefix,
  parseProducerParams,
  type ProducerParams,
  type TopicName,
} from '../../protocol/index.js';
import { brokerKeyStore } from '../crypto/key-store.js';
import { producerEncryption } from '../crypto/producer-encryption.js';
import { ProducerSession, type PublishTarget, type UnnumberedMessage } from '../sessions/producer-session.js';
import type { StoredMessage } from '../storage/record-codec.js';
import { PartitionRouter } from '../topics/partition-router.js';
import { TopicTerminatedError, type Topic } from '../topics/topic.js';
import {
  authorize,
  checkNamespace,
  creationFailure,
  openParts,
  parseQuery,
  type HandshakeContext,
  type PreparedSession,
  type SessionRequest,
} from './common.js';

export async function prepareProducer(
  request: SessionRequest,
  context: HandshakeContext,
): Promise<PreparedSession> {
  const { endpoint, query } = request;
  const prefix = HandshakeMessagePrefix.producer;
  const params = parseQuery(parseProducerParams, query);
  authorize(request, 'produce', context);
  const encryption = await producerEncryption(
    params,
    endpoint.topic.fullName,
    brokerKeyStore(context.options),
  );
  const producerName = params.producerName ?? context.nextProducerName();
  const releases: (() => void)[] = [];
  const release = (): void => releases.splice(0).forEach((releaseOne) => releaseOne());
  let target: PublishTarget;
  try {
    if (endpoint.topic.domain === 'non-persistent') {
      checkNamespace(endpoint.topic, context);
      const topic = context.topics.nonPersistent(endpoint.topic);
      releases.push(topic.claimProducerName(producerName));
      let lastSequenceId = params.initialSequenceId ?? -1;
      target = {
        name: endpoint.topic.fullName,
        // Acked at once with Pulsar's id for non-persistent messages (0:0).
        publish: (message) => {
          topic.publish({ ...message, sequenceId: ++lastSequenceId });
          return Promise.resolve({ ordinal: -1, ledgerId: 0, entryId: 0, partition: -1 });
        },
      };
    } else {
      const { topics, partitioned } = await openParts(endpoint.topic, context);
      for (const topic of topics) {
        if (topic.terminated) throw new TopicTerminatedError('Topic was already terminated');
        releases.push(topic.claimProducerName(producerName));
      }
      // As Pulsar's client does, per partition: the given initialSequenceId, else where that
      // partition's stored ones end.
      const { initialSequenceId } = params;
      const lastSequenceIds =
        initialSequenceId === undefined
          ? await Promise.all(topics.map((topic) => topic.lastSequenceIdOf(producerName)))
          : topics.map(() => initialSequenceId);
      target = publishTarget(endpoint.topic, topics, partitioned, params, lastSequenceIds);
    }
  } catch (error) {
    release();
    creationFailure(prefix, error, context.logger);
  }
  const logger = context.logger.child({
    component: 'producer',
    topic: endpoint.topic.fullName,
    producerName,
  });
  return {
    endpoint,
    attach: (ws) => {
      const session = new ProducerSession(
        ws,
        target,
        {
          producerName,
          maxMessageSize: context.options.maxMessageSize,
          maxPendingMessages: context.options.maxPendingMessagesPerProducer,
          maxPendingBytes: context.options.maxInboundBytesPerConnection,
          maxOutboundBytes: context.options.maxOutboundBytesPerConnection,
          ...(encryption === undefined ? {} : { encryption }),
        },
        logger,
      );
      return { start: () => undefined, handleFrame: (frame) => session.handleFrame(frame), close: release };
    },
    abandon: release,
  };
}

/**
 * `lastSequenceIds`: per topic (partition), the sequence id before its first message; each numbers
 * its own messages, so a resend with the same sequence id is a duplicate on the partition it
 * reaches, and only there.
 */
function publishTarget(
  name: TopicName,
  topics: readonly Topic[],
  partitioned: boolean,
  params: ProducerParams,
  lastSequenceIds: number[],
): PublishTarget {
  const numbered = (partition: number, message: UnnumberedMessage): StoredMessage => {
    const sequenceId = (lastSequenceIds[partition] ?? -1) + 1;
    lastSequenceIds[partition] = sequenceId;
    return { ...message, sequenceId };
  };
  const [single] = topics;
  if (!partitioned && single !== undefined) {
    return {
      name: name.fullName,
      publish: async (message) => ({ ...(await single.publish(numbered(0, message))), partition: -1 }),
    };
  }
  const router = new PartitionRouter(topics.length, params.messageRoutingMode, params.hashingScheme);
  return {
    name: name.fullName,
    publish: async (message) => {
      const partition = router.partitionOf(message.key);
      const topic = topics[partition];
      if (topic === undefined) throw new Error(`no partition ${partition} of ${name.fullName}`);
      return { ...(await topic.publish(numbered(partition, message))), partition };
    },
  };
}

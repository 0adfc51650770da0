/** The reader handshake; every reader creation failure is a 500, as in Pulsar. */
import {
  decodeMessageId,
  HandshakeMessagePrefix,
  parseReaderParams,
  positionOfMessageId,
  type MessageIdData,
} from '../../protocol/index.js';
import { clientMessage } from '../client-message.js';
import { deliveryCrypto } from '../crypto/delivery-crypto.js';
import { brokerKeyStore } from '../crypto/key-store.js';
import { ReaderSession } from '../sessions/reader-session.js';
import { NonPersistentReaderSource, TopicReaderSource } from '../sessions/sources.js';
import { isOutOfDescriptors } from '../storage/out-of-descriptors.js';
import type { Topic } from '../topics/topic.js';
import {
  authorize,
  checkNamespace,
  HandshakeError,
  openParts,
  parseQuery,
  type HandshakeContext,
  type PreparedSession,
  type SessionRequest,
} from './common.js';

/**
 * The reader's start: a message id equal to Pulsar's `MessageId.earliest` (-1:-1) or
 * `MessageId.latest` (Long.MAX:Long.MAX), no partition, no batch index, counts as earliest or
 * latest, as it does in Pulsar (where both are accepted on partitioned topics).
 */
function startPosition(
  start: 'earliest' | 'latest' | { readonly messageId: string },
): 'earliest' | 'latest' | MessageIdData {
  if (typeof start === 'string') return start;
  const id = decodeMessageId(start.messageId);
  return positionOfMessageId(id) ?? id;
}

export async function prepareReader(
  request: SessionRequest,
  context: HandshakeContext,
): Promise<PreparedSession> {
  const { endpoint, query } = request;
  const prefix = HandshakeMessagePrefix.reader;
  const params = parseQuery(parseReaderParams, query);
  authorize(request, 'consume', context);
  if (endpoint.topic.domain === 'non-persistent') {
    checkNamespace(endpoint.topic, context);
    const topic = context.topics.nonPersistent(endpoint.topic);
    const logger = context.logger.child({ component: 'reader', topic: endpoint.topic.fullName });
    return {
      endpoint,
      attach: (ws) =>
        new ReaderSession(
          ws,
          new NonPersistentReaderSource(topic, params.receiverQueueSize),
          params.receiverQueueSize,
          logger,
          context.options.maxOutboundBytesPerConnection,
          deliveryCrypto(brokerKeyStore(context.options), params.cryptoFailureAction, false),
        ),
      abandon: () => undefined,
    };
  }
  let parts: { topic: Topic; startOrdinal: number }[];
  let partitioned: boolean;
  try {
    // Every reader creation failure is a 500 in Pulsar, topic-not-found included.
    const opened = await openParts(endpoint.topic, context);
    partitioned = opened.partitioned;
    const start = startPosition(params.start);
    if (partitioned && typeof start !== 'string') {
      // Pulsar's multi-topics reader starts at earliest or latest only (its words).
      throw new Error('The partitioned topic startMessageId is illegal');
    }
    parts = opened.topics.map((topic) => ({
      topic,
      startOrdinal:
        start === 'earliest' ? 0 : start === 'latest' ? topic.log.length : topic.log.firstOrdinalAfter(start),
    }));
  } catch (error) {
    // Out of file descriptors is momentary: 503, as for any producer or consumer.
    throw new HandshakeError(isOutOfDescriptors(error) ? 503 : 500, `${prefix}${clientMessage(error)}`);
  }
  const logger = context.logger.child({ component: 'reader', topic: endpoint.topic.fullName });
  return {
    endpoint,
    attach: (ws) => {
      const source = new TopicReaderSource(
        parts.map(({ topic, startOrdinal }) => ({ topic, cursor: topic.reader(startOrdinal) })),
        // A partition read by its own name delivers ids naming it too, as Pulsar's reader does.
        partitioned ? 'by-index' : endpoint.topic.partitionIndex,
      );
      const crypto = deliveryCrypto(brokerKeyStore(context.options), params.cryptoFailureAction, false);
      return new ReaderSession(
        ws,
        source,
        params.receiverQueueSize,
        logger,
        context.options.maxOutboundBytesPerConnection,
        crypto,
      );
    },
    abandon: () => undefined,
  };
}

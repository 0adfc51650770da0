/**
 * pulsar-ws-streams: the Apache Pulsar WebSocket API as Node.js streams and connectors.
 *
 * So far the package ships the protocol layer and the embedded broker; the client, streams and
 * connectors follow (see the README's roadmap).
 */
export {
  EmbeddedBroker,
  BrokerOptionError,
  DataDirLockedError,
  type EmbeddedBrokerOptions,
} from './broker/index.js';
export {
  compareMessageIds,
  decodeMessageId,
  encodeMessageId,
  parseTopicName,
  type MessageIdData,
  type TopicName,
} from './protocol/index.js';

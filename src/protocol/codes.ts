/**
 * Numeric codes of the WebSocket API: Pulsar's application error codes, the WebSocket close codes
 * a client really observes, and the HTTP statuses of failed handshakes (docs/protocol.md §8).
 */

/** Pulsar's `WebSocketError` codes. Only 3, 7 and 8 appear on the wire, inside `send-error:N` acks. */
export const WebSocketErrorCode = {
  FailedToCreateProducer: 1,
  FailedToSubscribe: 2,
  FailedToDeserializeFromJson: 3,
  FailedToSerializeToJson: 4,
  AuthenticationError: 5,
  NotAuthorizedError: 6,
  PayloadEncodingError: 7,
  UnknownError: 8,
} as const;
export type WebSocketErrorCode = (typeof WebSocketErrorCode)[keyof typeof WebSocketErrorCode];

/** WebSocket close codes (RFC 6455) as Pulsar's Jetty server produces them. */
export const CloseCode = {
  Normal: 1000,
  /** Idle timeout and server shutdown. */
  GoingAway: 1001,
  /** Never sent on the wire: what a client reports when the TCP connection drops without a close frame. */
  Abnormal: 1006,
  /** Inbound text frame larger than the server's limit. */
  MessageTooBig: 1009,
  /** Unhandled exception while handling a frame. */
  InternalError: 1011,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Message prefixes Pulsar uses in failed-handshake responses (the status code is what matters). */
export const HandshakeMessagePrefix = {
  invalidParams: 'Invalid query params: ',
  /** Pulsar uses this one literal for both producers and consumers. */
  producer: 'Failed to create producer/consumer: ',
  consumer: 'Failed to create producer/consumer: ',
  reader: 'Failed to create reader: ',
} as const;

/** Pulsar's cap on `receiverQueueSize` for WebSocket consumers and readers. */
export const MAX_RECEIVER_QUEUE_SIZE = 1000;
/** `webSocketMaxTextFrameSize` default: larger inbound frames close the session with 1009. */
export const DEFAULT_MAX_TEXT_FRAME_SIZE = 1024 * 1024;
/** The broker's `maxMessageSize` default; larger messages get a `send-error:8` ack. */
export const DEFAULT_MAX_MESSAGE_SIZE = 5 * 1024 * 1024;

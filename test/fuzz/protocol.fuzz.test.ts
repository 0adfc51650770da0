/**
 * Property-based fuzzing of everything that reads bytes from the other side (fast-check): the
 * client's decoders of server frames, the broker's decoders of client frames and its query and path
 * parsers, and the message-id codec (round trip, ordering). Each input is answered or rejected with
 * the typed error of its layer; nothing throws anything else, nothing hangs. fast-check prints the
 * seed and the shrunk counterexample of a failure; replay it with `{ seed, path }` in fc.assert.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import {
  Base64FormatError,
  compareMessageIds,
  decodeConsumerCommand,
  decodeConsumerServerFrame,
  decodeMessageId,
  decodeMessageIdBytes,
  decodeProducerAckFrame,
  decodePublishFrame,
  decodeReaderCommand,
  encodeMessageId,
  encodeMessageIdBytes,
  EndpointPathError,
  MessageIdFormatError,
  ParamError,
  parseConsumerParams,
  parseEndpointPath,
  parseProducerParams,
  parseReaderParams,
  type MessageIdData,
} from '../../src/protocol/index.js';

const RUNS = { numRuns: 2_000 };

/** JSON-ish text: real JSON values (often object-shaped like a frame), broken JSON and plain strings. */
const frameFields = fc.record(
  {
    messageId: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.base64String()),
    payload: fc.oneof(fc.base64String(), fc.string(), fc.integer(), fc.constant(null)),
    properties: fc.oneof(
      fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())),
      fc.string(),
      fc.array(fc.string()),
    ),
    publishTime: fc.oneof(fc.string(), fc.integer()),
    redeliveryCount: fc.oneof(fc.integer(), fc.string(), fc.double()),
    eventTime: fc.oneof(fc.string(), fc.integer()),
    key: fc.oneof(fc.string(), fc.integer()),
    endOfTopic: fc.oneof(fc.boolean(), fc.string()),
    result: fc.oneof(fc.constantFrom('ok', 'send-error:3', 'send-error:8', 'weird'), fc.integer()),
    context: fc.oneof(fc.string(), fc.integer()),
    errorMsg: fc.oneof(fc.string(), fc.integer()),
    type: fc.oneof(
      fc.constantFrom('permit', 'ack', 'negativeAcknowledge', 'unsubscribe', 'isEndOfTopic'),
      fc.string(),
    ),
    permitMessages: fc.oneof(fc.integer(), fc.string(), fc.double()),
    deliverAt: fc.oneof(fc.integer(), fc.string()),
    replicationClusters: fc.oneof(fc.array(fc.string()), fc.string(), fc.array(fc.integer())),
  },
  { requiredKeys: [] },
);

const frameText = fc.oneof(
  frameFields.map((fields) => JSON.stringify(fields)),
  fc.json(),
  fc.string(),
  fc.string({ unit: 'binary' }),
  frameFields.map((fields) => JSON.stringify(fields).slice(0, -1)),
);

/** Runs `decode`; an error must be one of `allowed`. */
function answersOrRejects(decode: () => unknown, ...allowed: (new (...args: never[]) => Error)[]): void {
  try {
    decode();
  } catch (error) {
    if (!allowed.some((type) => error instanceof type)) throw error;
  }
}

describe('fuzz: client decoders of server frames', () => {
  it('decodeConsumerServerFrame answers or throws a ProtocolError naming the frame', () => {
    fc.assert(
      fc.property(
        frameText,
        fc.constantFrom<'consumer frame' | 'reader frame'>('consumer frame', 'reader frame'),
        (text, kind) => {
          try {
            const frame = decodeConsumerServerFrame(text, kind);
            if (frame.kind === 'message') {
              expect(typeof frame.message.messageId).toBe('string');
              expect(typeof frame.message.payload).toBe('string');
              for (const value of Object.values(frame.message.properties))
                expect(typeof value).toBe('string');
            }
          } catch (error) {
            expect(error).toBeInstanceOf(ProtocolError);
            expect((error as ProtocolError).frameKind).toBe(kind);
          }
        },
      ),
      RUNS,
    );
  });

  it('decodeProducerAckFrame answers or throws a ProtocolError; an ok ack always has a messageId', () => {
    fc.assert(
      fc.property(frameText, (text) => {
        try {
          const ack = decodeProducerAckFrame(text);
          if (ack.result === 'ok') expect(typeof ack.messageId).toBe('string');
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
          expect((error as ProtocolError).frameKind).toBe('producer ack');
        }
      }),
      RUNS,
    );
  });
});

describe('fuzz: broker decoders of client frames', () => {
  it('decodePublishFrame always answers: a message, an error ack, or a fatal close', () => {
    fc.assert(
      fc.property(frameText, (text) => {
        const result = decodePublishFrame(text);
        expect(['message', 'error', 'fatal']).toContain(result.kind);
        if (result.kind === 'error') expect(result.ack.result).toMatch(/^send-error:\d+$/);
      }),
      RUNS,
    );
  });

  it('decodeConsumerCommand always answers: a command or a failure with its close', () => {
    fc.assert(
      fc.property(frameText, (text) => {
        const command = decodeConsumerCommand(text);
        if (command.type === 'failure') expect(['drop', 'internal-error']).toContain(command.close);
        if (command.type === 'permit') expect(Number.isInteger(command.permitMessages)).toBe(true);
      }),
      RUNS,
    );
  });

  it('decodeReaderCommand always answers', () => {
    fc.assert(
      fc.property(frameText, (text) => {
        expect(['isEndOfTopic', 'credit']).toContain(decodeReaderCommand(text).type);
      }),
      RUNS,
    );
  });
});

const paramNames = [
  'producerName',
  'initialSequenceId',
  'sendTimeoutMillis',
  'batchingEnabled',
  'batchingMaxMessages',
  'maxPendingMessages',
  'messageRoutingMode',
  'compressionType',
  'hashingScheme',
  'subscriptionType',
  'subscriptionMode',
  'subscriptionInitialPosition',
  'ackTimeoutMillis',
  'receiverQueueSize',
  'consumerName',
  'priorityLevel',
  'maxRedeliverCount',
  'deadLetterTopic',
  'negativeAckRedeliveryDelay',
  'pullMode',
  'messageId',
  'readerName',
  'cryptoFailureAction',
];

const queryParams = fc
  .dictionary(
    fc.constantFrom(...paramNames),
    fc.oneof(
      fc.string(),
      fc.integer().map(String),
      fc.constantFrom('true', 'false', 'latest', 'earliest', 'Shared', '-1', '2147483648'),
    ),
  )
  .map((entries) => new URLSearchParams(entries));

describe('fuzz: broker query and path parsers', () => {
  it('producer, consumer and reader parameters parse or throw a ParamError', () => {
    fc.assert(
      fc.property(queryParams, (params) => {
        answersOrRejects(() => parseProducerParams(params), ParamError);
        answersOrRejects(() => parseConsumerParams(params), ParamError);
        answersOrRejects(
          () => parseReaderParams(params),
          ParamError,
          Base64FormatError,
          MessageIdFormatError,
        );
      }),
      RUNS,
    );
  });

  it('endpoint paths parse or throw an EndpointPathError with an HTTP status', () => {
    const segment = fc.oneof(
      fc.string(),
      fc.constantFrom(
        'ws',
        'v2',
        'v3',
        'producer',
        'consumer',
        'reader',
        'persistent',
        'non-persistent',
        'public',
        'default',
        '%zz',
        '%41',
        '',
      ),
    );
    const path = fc.array(segment, { maxLength: 9 }).map((parts) => `/${parts.join('/')}`);
    fc.assert(
      fc.property(path, (raw) => {
        try {
          parseEndpointPath(raw);
        } catch (error) {
          if (!(error instanceof EndpointPathError)) throw error;
          expect([400, 404, 500]).toContain(error.status);
        }
      }),
      RUNS,
    );
  });
});

const messageIds: fc.Arbitrary<MessageIdData> = fc.record({
  ledgerId: fc.maxSafeNat(),
  entryId: fc.maxSafeNat(),
  partition: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  batchIndex: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  batchSize: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
});

describe('fuzz: message-id codec', () => {
  it('round trip: decode(encode(id)) is id', () => {
    fc.assert(
      fc.property(messageIds, (id) => {
        expect(decodeMessageId(encodeMessageId(id))).toEqual(id);
      }),
      RUNS,
    );
  });

  it('ordering survives the wire and is a total order within a partition', () => {
    fc.assert(
      fc.property(messageIds, messageIds, messageIds, (a, b, c) => {
        const wire = (id: MessageIdData) => decodeMessageId(encodeMessageId(id));
        expect(Math.sign(compareMessageIds(wire(a), wire(b)))).toBe(Math.sign(compareMessageIds(a, b)));
        expect(Math.sign(compareMessageIds(a, b))).toBe(-Math.sign(compareMessageIds(b, a)));
        if (compareMessageIds(a, b) <= 0 && compareMessageIds(b, c) <= 0) {
          expect(compareMessageIds(a, c)).toBeLessThanOrEqual(0);
        }
      }),
      RUNS,
    );
  });

  it('arbitrary bytes decode or throw a MessageIdFormatError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        answersOrRejects(() => decodeMessageIdBytes(bytes), MessageIdFormatError);
      }),
      RUNS,
    );
  });

  it('arbitrary text decodes or throws a Base64FormatError or MessageIdFormatError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.base64String()), (text) => {
        answersOrRejects(() => decodeMessageId(text), Base64FormatError, MessageIdFormatError);
      }),
      RUNS,
    );
  });

  it('mutated valid ids decode or are rejected with the codec error', () => {
    fc.assert(
      fc.property(messageIds, fc.nat(), fc.integer({ min: 0, max: 255 }), (id, at, byte) => {
        const bytes = encodeMessageIdBytes(id);
        bytes[at % bytes.length] = byte;
        answersOrRejects(() => decodeMessageIdBytes(bytes), MessageIdFormatError);
      }),
      RUNS,
    );
  });
});

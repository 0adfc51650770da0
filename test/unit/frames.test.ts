import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64Bytes, decodeBase64Strict } from '../../src/protocol/base64.js';
import { decodeConsumerCommand, decodePublishFrame, decodeReaderCommand } from '../../src/protocol/index.js';

describe('publish frame decoding (Jackson coercions)', () => {
  it('coerces scalar properties and context to strings', () => {
    const result = decodePublishFrame(
      '{"payload":"aGk=","properties":{"n":1,"b":true,"z":null},"context":7}',
    );
    expect(result).toMatchObject({
      kind: 'message',
      message: { properties: { n: '1', b: 'true' }, context: '7' },
    });
  });

  it('deliverAt and deliverAfterMs accept numeric strings and truncate fractions', () => {
    const result = decodePublishFrame('{"payload":"","deliverAt":"1700000000000","deliverAfterMs":1.9}');
    expect(result).toMatchObject({
      kind: 'message',
      message: { deliverAt: 1_700_000_000_000, deliverAfterMs: 1 },
    });
  });

  it('the JSON literal null is an unhandled error in Pulsar (close 1011)', () => {
    expect(decodePublishFrame('null')).toEqual({ kind: 'fatal', reason: 'NullPointerException' });
  });
});

describe('consumer command decoding', () => {
  it('treats an unknown or absent type as an ack', () => {
    expect(decodeConsumerCommand('{"type":"ack","messageId":"CAEQADAA"}')).toMatchObject({ type: 'ack' });
    expect(decodeConsumerCommand('{"type":"whatever","messageId":"CAEQADAA"}')).toMatchObject({
      type: 'ack',
    });
  });

  it('permitMessages may be a numeric string', () => {
    expect(decodeConsumerCommand('{"type":"permit","permitMessages":"4"}')).toEqual({
      type: 'permit',
      permitMessages: 4,
    });
  });

  it('a non-numeric permitMessages drops the connection', () => {
    expect(decodeConsumerCommand('{"type":"permit","permitMessages":"many"}')).toMatchObject({
      close: 'drop',
    });
  });
});

describe('reader command decoding', () => {
  it('only isEndOfTopic is a command; everything else is a credit', () => {
    expect(decodeReaderCommand('{"type":"isEndOfTopic"}')).toEqual({ type: 'isEndOfTopic' });
    expect(decodeReaderCommand('{"type":"permit","permitMessages":3}')).toEqual({
      type: 'credit',
      dropConnection: false,
    });
    expect(decodeReaderCommand('nope')).toEqual({ type: 'credit', dropConnection: true });
  });
});

describe('decodePublishFrame of large frames (payload cut out before parsing)', () => {
  const big = Buffer.alloc(6000, 7);
  const b64 = big.toString('base64');
  const payloadOf = (text: string): Buffer | undefined => {
    const result = decodePublishFrame(Buffer.from(text));
    return result.kind === 'message' ? result.message.payload : undefined;
  };

  it('reads the payload wherever it stands, with the other fields intact', () => {
    const text = JSON.stringify({ context: 'c', properties: { a: 'b' }, payload: b64, key: 'k' });
    const result = decodePublishFrame(Buffer.from(text));
    expect(result.kind).toBe('message');
    if (result.kind !== 'message') return;
    expect(result.message.payload.equals(big)).toBe(true);
    expect(result.message).toMatchObject({ context: 'c', properties: { a: 'b' }, key: 'k' });
  });

  it('is not fooled by a property named payload, a duplicate key or an escaped payload', () => {
    const nested = `{"properties":{"payload":"AAAA"},"payload" : "${b64}"}`;
    expect(payloadOf(nested)?.equals(big)).toBe(true);
    expect(decodePublishFrame(Buffer.from(nested))).toMatchObject({
      kind: 'message',
      message: { properties: { payload: 'AAAA' } },
    });
    // JSON takes the last of duplicate keys.
    const duplicate = `{"payload":"${b64}","payload" : "AAAA"}`;
    expect(payloadOf(duplicate)?.equals(Buffer.from('AAAA', 'base64'))).toBe(true);
    // A JSON escape inside the value: "\u0042" is the payload's first character, "B".
    expect(b64.startsWith('B')).toBe(true);
    const escaped = `{"payload":"\\u0042${b64.slice(1)}"}`;
    expect(payloadOf(escaped)?.equals(big)).toBe(true);
    const inString = `{"context":"x\\"payload\\":\\"","payload":"${b64}"}`;
    expect(decodePublishFrame(Buffer.from(inString))).toMatchObject({
      kind: 'message',
      message: { context: 'x"payload":"' },
    });
    expect(payloadOf(inString)?.equals(big)).toBe(true);
  });

  it('answers bad base64 and bad JSON as the whole-frame parse does', () => {
    expect(
      decodePublishFrame(Buffer.from(`{"payload":"${b64.slice(0, -4)}-AAA","context":"c"}`)),
    ).toMatchObject({
      kind: 'error',
      ack: { context: 'c' },
    });
    expect(decodePublishFrame(Buffer.from(`{"payload":"${b64}",}`))).toMatchObject({ kind: 'error' });
  });
});

describe('decodeBase64Bytes', () => {
  it('decodes exactly what decodeBase64Strict accepts, to the same bytes', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ é';
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes).toString('base64')),
          fc
            .uint8Array({ maxLength: 40 })
            .map((bytes) => Buffer.from(bytes).toString('base64').replace(/=+$/, '')),
          fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 24 }),
        ),
        (text) => {
          const bytes = Buffer.from(`xx${text}yy`);
          const decoded = decodeBase64Bytes(bytes, 2, bytes.length - 2);
          let strict: Buffer | undefined;
          try {
            strict = decodeBase64Strict(text);
          } catch {
            strict = undefined;
          }
          if (strict === undefined) expect(decoded).toBeUndefined();
          else expect(decoded?.equals(strict)).toBe(true);
        },
      ),
    );
  });
});

import { describe, expect, it } from 'vitest';
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

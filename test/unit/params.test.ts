import { describe, expect, it } from 'vitest';
import {
  ParamError,
  parseConsumerParams,
  parseProducerParams,
  parseReaderParams,
  pushWindowSize,
} from '../../src/protocol/index.js';

const q = (query: string): URLSearchParams => new URLSearchParams(query);

describe('query parameters', () => {
  it('producer defaults match the WebSocket service (batching off, SinglePartition)', () => {
    expect(parseProducerParams(q(''))).toEqual({
      hashingScheme: 'JavaStringHash',
      batchingEnabled: false,
      messageRoutingMode: 'SinglePartition',
    });
  });

  it('only the first value of a repeated key counts', () => {
    expect(parseProducerParams(q('producerName=a&producerName=b')).producerName).toBe('a');
  });

  it('numbers follow Java parsing, with the NumberFormatException wording', () => {
    expect(() => parseProducerParams(q('initialSequenceId=1e3'))).toThrow('For input string: "1e3"');
    expect(parseProducerParams(q('initialSequenceId=%2B42')).initialSequenceId).toBe(42);
    expect(() => parseProducerParams(q('sendTimeoutMillis=3000000000'))).toThrow(ParamError);
  });

  it('consumer receiverQueueSize is capped at 1000; the push window is 1 for 0', () => {
    expect(parseConsumerParams(q('receiverQueueSize=5000')).receiverQueueSize).toBe(1000);
    expect(pushWindowSize(0)).toBe(1);
    expect(pushWindowSize(7)).toBe(7);
  });

  it('pullMode follows Boolean.parseBoolean', () => {
    expect(parseConsumerParams(q('pullMode=TRUE')).pullMode).toBe(true);
    expect(parseConsumerParams(q('pullMode=yes')).pullMode).toBe(false);
  });

  it('reader parameter errors are 500s; messageId defaults to latest', () => {
    expect(parseReaderParams(q('')).start).toBe('latest');
    expect(parseReaderParams(q('messageId=earliest')).start).toBe('earliest');
    expect(parseReaderParams(q('messageId=CAEQADAA')).start).toEqual({ messageId: 'CAEQADAA' });
    try {
      parseReaderParams(q('receiverQueueSize=x'));
      expect.unreachable();
    } catch (error) {
      expect((error as ParamError).status).toBe(500);
    }
  });
});

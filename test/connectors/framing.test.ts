/** Framing: lines, raw chunks, NDJSON key/properties mapping, and errors that name file and line. */
import { describe, expect, it } from 'vitest';
import { createFramer, toProducerMessage } from '../../src/connectors/framing.js';
import { ConnectorError } from '../../src/errors.js';

const describeLine = (line: number) => `in.txt:${line}`;

describe('framing', () => {
  it('lines: records across chunk boundaries, with end offsets and line numbers; the tail on flush', () => {
    const framer = createFramer(10, { format: 'lines', maxRecordBytes: 100, describe: describeLine });
    const first = framer.push(Buffer.from('ab\ncd'));
    const second = framer.push(Buffer.from('e\n\nf'));
    const tail = framer.flush();
    expect([...first, ...second, ...tail].map((r) => [r.payload.toString(), r.end, r.line])).toEqual([
      ['ab', 13, 1],
      ['cde', 17, 2],
      ['', 18, 3],
      ['f', 19, 4],
    ]);
  });

  it('lines: a line over the limit is an error naming the file and line', () => {
    const framer = createFramer(0, { format: 'lines', maxRecordBytes: 4, describe: describeLine });
    framer.push(Buffer.from('ok\n'));
    expect(() => framer.push(Buffer.from('toolong'))).toThrow(/in\.txt:2 is longer than 4 bytes/);
  });

  it('raw: fixed-size chunks, or the whole input as one message', () => {
    const chunks = createFramer(0, {
      format: 'raw',
      chunkBytes: 4,
      maxRecordBytes: 100,
      describe: describeLine,
    });
    const records = [...chunks.push(Buffer.from('abcdefghij')), ...chunks.flush()];
    expect(records.map((r) => [r.payload.toString(), r.end])).toEqual([
      ['abcd', 4],
      ['efgh', 8],
      ['ij', 10],
    ]);
    const whole = createFramer(0, { format: 'raw', maxRecordBytes: 100, describe: describeLine });
    expect(whole.push(Buffer.from('abc\ndef'))).toEqual([]);
    expect(whole.flush().map((r) => r.payload.toString())).toEqual(['abc\ndef']);
  });

  it('ndjson: key and properties from fields; the payload is the line as it was; bad JSON names the line', () => {
    const line = Buffer.from('{"id":7,"meta":{"a":"x","n":1},"v":true}');
    const message = toProducerMessage(
      { payload: line, end: 0, line: 3 },
      'ndjson',
      { keyField: 'id', propertiesField: 'meta' },
      'in.ndjson:3',
    );
    expect(message).toEqual({ payload: line, key: '7', properties: { a: 'x', n: '1' } });
    expect(() =>
      toProducerMessage({ payload: Buffer.from('{oops'), end: 0, line: 9 }, 'ndjson', {}, 'in.ndjson'),
    ).toThrow(ConnectorError);
    expect(() =>
      toProducerMessage({ payload: Buffer.from('{oops'), end: 0, line: 9 }, 'ndjson', {}, 'in.ndjson'),
    ).toThrow(/in\.ndjson:9: not a JSON value/);
  });
});

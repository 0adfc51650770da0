/** ReadAhead keeps a few runs of messages, the oldest dropped first. */
import { describe, expect, it } from 'vitest';
import { MAX_RUNS, ReadAhead } from '../../src/broker/storage/read-ahead.js';
import type { StoredMessage } from '../../src/broker/storage/record-codec.js';

function messages(count: number, tag: string): StoredMessage[] {
  return Array.from({ length: count }, (_, index) => ({
    payload: Buffer.from(`${tag}${index}`),
    properties: {},
    publishTime: 0,
    producerName: 'p',
    sequenceId: index,
  }));
}

describe('ReadAhead', () => {
  it('answers from its runs and keeps at most MAX_RUNS of them', () => {
    const readAhead = new ReadAhead();
    for (let run = 0; run <= MAX_RUNS; run++) readAhead.add(run * 100, messages(10, `r${run}-`));
    expect(readAhead.get(0)).toBeUndefined(); // the first run was dropped
    expect(readAhead.get(105)?.payload.toString()).toBe('r1-5');
    expect(readAhead.get(MAX_RUNS * 100 + 9)?.payload.toString()).toBe(`r${MAX_RUNS}-9`);
    expect(readAhead.get(110)).toBeUndefined();
    readAhead.forgetBefore(200);
    expect(readAhead.get(105)).toBeUndefined();
    expect(readAhead.get(205)?.payload.toString()).toBe('r2-5');
  });
});

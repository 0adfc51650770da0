/** OrdinalRanges against a plain Set, under random operations (fast-check), and its memory shape. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrdinalRanges } from '../../src/broker/topics/ordinal-ranges.js';

type Operation = { kind: 'add' | 'delete' | 'deleteBelow' | 'take'; ordinal: number };

describe('OrdinalRanges', () => {
  it('behaves as a set of integers under any sequence of changes', () => {
    const operation = fc.record({
      kind: fc.constantFrom<Operation['kind']>('add', 'add', 'add', 'delete', 'deleteBelow', 'take'),
      ordinal: fc.integer({ min: 0, max: 60 }),
    });
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
        const ranges = new OrdinalRanges();
        const model = new Set<number>();
        for (const { kind, ordinal } of operations) {
          if (kind === 'add') expect(ranges.add(ordinal)).toBe(!model.has(ordinal));
          if (kind === 'add') model.add(ordinal);
          if (kind === 'delete') expect(ranges.delete(ordinal)).toBe(model.delete(ordinal));
          if (kind === 'deleteBelow') {
            ranges.deleteBelow(ordinal);
            for (const member of model) if (member < ordinal) model.delete(member);
          }
          if (kind === 'take') {
            const end = ranges.takeRangeAt(ordinal);
            if (end !== undefined) for (let member = ordinal; member < end; member++) model.delete(member);
          }
          const sorted = [...model].sort((a, b) => a - b);
          expect([...ranges.values()]).toEqual(sorted);
          expect(ranges.size).toBe(model.size);
          expect(ranges.first()).toBe(sorted[0]);
          expect(ranges.countBelow(30)).toBe(sorted.filter((member) => member < 30).length);
        }
      }),
    );
  });

  it('holds contiguous members as one range however many', () => {
    const ranges = new OrdinalRanges();
    for (let ordinal = 1; ordinal <= 100_000; ordinal++) ranges.add(ordinal);
    expect(ranges.rangeCount).toBe(1);
    expect(ranges.size).toBe(100_000);
    expect(ranges.takeRangeAt(1)).toBe(100_001);
    expect(ranges.size).toBe(0);
  });

  it('lists closed ranges', () => {
    const ranges = new OrdinalRanges();
    for (const ordinal of [5, 6, 7, 9, 12, 11]) ranges.add(ordinal);
    expect([...ranges.closedRanges()]).toEqual([
      [5, 7],
      [9, 9],
      [11, 12],
    ]);
  });
});

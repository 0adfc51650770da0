/** Reading what was typed for a numeric flag (src/cli/number-flags.ts). */
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/cli-error.js';
import { flagTexts, rejectNonNumbers } from '../../src/cli/number-flags.js';

describe('flagTexts', () => {
  it('finds `--flag value`, `--flag=value` and aliases, in order; none after `--`', () => {
    const args = ['--count', '3', '-c=4', 'x', '--count=five', '--', '--count', '6'];
    expect(flagTexts(args, ['count', 'c'])).toEqual(['3', '4', 'five']);
  });

  it('a flag followed by another flag, or by nothing, has no value; a negative number is one', () => {
    expect(flagTexts(['--count', '--idle-exit', '1'], ['count'])).toEqual([undefined]);
    expect(flagTexts(['--count'], ['count'])).toEqual([undefined]);
    expect(flagTexts(['--count', '-2'], ['count'])).toEqual(['-2']);
  });
});

describe('rejectNonNumbers', () => {
  const options = { number: ['count', 'port'], alias: { port: ['p'] } };

  it('quotes the text that yargs read as NaN, naming the flag', () => {
    expect(() => rejectNonNumbers({ port: Number.NaN }, options, ['-p', 'eighty'])).toThrow(
      new CliError('--port expects a number, got "eighty"', 2),
    );
    expect(() =>
      rejectNonNumbers({ count: [1, Number.NaN] }, options, ['--count', '1', '--count', 'x']),
    ).toThrow('--count expects a number, got "x"');
  });

  it('refuses a numeric flag given without a value (yargs would use its default)', () => {
    expect(() => rejectNonNumbers({ count: 100 }, options, ['--count'])).toThrow(
      '--count expects a number, got none',
    );
  });

  it('lets numbers and absent flags through', () => {
    expect(() =>
      rejectNonNumbers({ count: 3, port: -1 }, options, ['--count', '3', '--port=-1']),
    ).not.toThrow();
    expect(() => rejectNonNumbers({ count: 100 }, options, [])).not.toThrow();
  });
});

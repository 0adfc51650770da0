import { describe, expect, it } from 'vitest';
import {
  Base64FormatError,
  DateTimeFormatError,
  decodeBase64Strict,
  formatOffsetDateTime,
  parseOffsetDateTime,
} from '../../src/protocol/index.js';

describe('strict base64 (Java Base64.getDecoder())', () => {
  it('decodes with and without padding, and the empty string', () => {
    expect(decodeBase64Strict('aGk=').toString()).toBe('hi');
    expect(decodeBase64Strict('aGk').toString()).toBe('hi');
    expect(decodeBase64Strict('').length).toBe(0);
  });

  it.each([
    ['a-b=', /Illegal base64 character 2d/],
    ['_w==', /Illegal base64 character 5f/],
    ['aGk =', /Illegal base64 character 20/],
    ['aGk=\n', /incorrect ending/],
    ['a', /enough valid bits/],
    ['aGk==', /4-byte ending/],
    ['a===', /4-byte ending/],
  ])('rejects %j', (text, message) => {
    expect(() => decodeBase64Strict(text)).toThrow(Base64FormatError);
    expect(() => decodeBase64Strict(text)).toThrow(message);
  });
});

/** Java's rules written plainly: the alphabet, then padding, then the length. */
function javaDecode(text: string): Buffer | 'error' {
  const firstPad = text.indexOf('=');
  const data = firstPad >= 0 ? text.slice(0, firstPad) : text;
  if (!/^[A-Za-z0-9+/]*$/.test(data)) return 'error';
  if (firstPad >= 0) {
    const padding = text.slice(firstPad);
    if (!/^=+$/.test(padding) || padding.length > 2 || text.length % 4 !== 0 || data.length % 4 < 2)
      return 'error';
  }
  if (data.length % 4 === 1) return 'error';
  return Buffer.from(data, 'base64');
}

describe('strict base64: the native fast path decides as the rules do', () => {
  it('agrees with a plain reading of the rules on 50 000 random texts of valid and invalid characters', () => {
    const characters = 'AQgw09+/=-_ \n!é\u0000azZ';
    let seed = 7;
    const random = (below: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % below;
    };
    for (let run = 0; run < 50_000; run++) {
      const valid = random(2) === 0;
      const text = valid
        ? Buffer.from(Array.from({ length: random(12) }, () => random(256))).toString('base64')
        : Array.from({ length: random(14) }, () => characters[random(characters.length)]).join('');
      const expected = javaDecode(text);
      let actual: Buffer | 'error';
      try {
        actual = decodeBase64Strict(text);
      } catch (error) {
        expect(error, JSON.stringify(text)).toBeInstanceOf(Base64FormatError);
        actual = 'error';
      }
      if (expected === 'error' || actual === 'error') expect(actual, JSON.stringify(text)).toBe(expected);
      else expect(actual.equals(expected), JSON.stringify(text)).toBe(true);
    }
  });
});

describe('ISO_OFFSET_DATE_TIME', () => {
  it('formats in UTC with trailing fraction zeros stripped', () => {
    expect(formatOffsetDateTime(Date.UTC(2021, 9, 29, 16, 1, 38, 967))).toBe('2021-10-29T16:01:38.967Z');
    expect(formatOffsetDateTime(Date.UTC(2021, 9, 29, 16, 1, 38, 900))).toBe('2021-10-29T16:01:38.9Z');
    expect(formatOffsetDateTime(Date.UTC(2024, 0, 1))).toBe('2024-01-01T00:00:00Z');
    // The same millisecond twice (served from the one-entry cache), then another.
    expect(formatOffsetDateTime(Date.UTC(2024, 0, 1))).toBe('2024-01-01T00:00:00Z');
    expect(formatOffsetDateTime(Date.UTC(2024, 0, 1, 0, 0, 0, 10))).toBe('2024-01-01T00:00:00.01Z');
  });

  it('parses offsets, optional seconds and fractions', () => {
    expect(parseOffsetDateTime('2024-05-01T10:00:00Z')).toBe(Date.UTC(2024, 4, 1, 10));
    expect(parseOffsetDateTime('2024-05-01T10:00:00.5+02:00')).toBe(Date.UTC(2024, 4, 1, 8, 0, 0, 500));
    expect(parseOffsetDateTime('2024-05-01T10:00-01:30')).toBe(Date.UTC(2024, 4, 1, 11, 30));
    expect(parseOffsetDateTime('2024-05-01T10:00:00.123456789Z')).toBe(Date.UTC(2024, 4, 1, 10, 0, 0, 123));
  });

  it("reports Java's failure index", () => {
    expect(() => parseOffsetDateTime('x')).toThrow("Text 'x' could not be parsed at index 0");
    expect(() => parseOffsetDateTime('2024-05-01T10:00:00')).toThrow('at index 19');
    expect(() => parseOffsetDateTime('2024-13-01T10:00:00Z')).toThrow('Invalid value for MonthOfYear');
  });

  it.each([
    '2024-05-01T10:00:00',
    '2024-05-01',
    '2024-02-30T10:00:00Z',
    '2024-05-01T24:00:00Z',
    'yesterday',
    '1714557600000',
  ])('rejects %j', (text) => {
    expect(() => parseOffsetDateTime(text)).toThrow(DateTimeFormatError);
  });
});

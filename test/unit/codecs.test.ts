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

describe('ISO_OFFSET_DATE_TIME', () => {
  it('formats in UTC with trailing fraction zeros stripped', () => {
    expect(formatOffsetDateTime(Date.UTC(2021, 9, 29, 16, 1, 38, 967))).toBe('2021-10-29T16:01:38.967Z');
    expect(formatOffsetDateTime(Date.UTC(2021, 9, 29, 16, 1, 38, 900))).toBe('2021-10-29T16:01:38.9Z');
    expect(formatOffsetDateTime(Date.UTC(2024, 0, 1))).toBe('2024-01-01T00:00:00Z');
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

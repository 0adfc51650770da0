/**
 * Timestamps as the WebSocket API writes and reads them: Java's `ISO_OFFSET_DATE_TIME`.
 */

/**
 * Formats epoch milliseconds like Java's `ISO_OFFSET_DATE_TIME` in UTC: seconds always present,
 * the fraction only when non-zero and without trailing zeros (`...:38.9Z`, `...:00Z`).
 */
export function formatOffsetDateTime(epochMillis: number): string {
  // Consecutive deliveries mostly carry the same millisecond (a batch published together): one
  // formatting serves them all.
  if (epochMillis === lastFormatted.millis) return lastFormatted.text;
  const text = formatUncached(epochMillis);
  lastFormatted = { millis: epochMillis, text };
  return text;
}

let lastFormatted: { readonly millis: number; readonly text: string } = { millis: Number.NaN, text: '' };

function formatUncached(epochMillis: number): string {
  const iso = new Date(epochMillis).toISOString(); // 2024-01-01T00:00:00.900Z
  const [withoutFraction = iso, fraction = ''] = iso.slice(0, -1).split('.');
  const trimmed = fraction.replace(/0+$/, '');
  return trimmed.length > 0 ? `${withoutFraction}.${trimmed}Z` : `${withoutFraction}Z`;
}

export class DateTimeFormatError extends Error {
  override readonly name = 'DateTimeFormatError';
}

/** A cursor over the text that records how far parsing got, for Java's "at index N" message. */
class Scanner {
  index = 0;
  constructor(readonly text: string) {}

  digits(min: number, max: number): number | undefined {
    let end = this.index;
    while (end < this.text.length && end - this.index < max && /\d/.test(this.text[end] ?? '')) end++;
    if (end - this.index < min) return undefined;
    const value = this.text.slice(this.index, end);
    this.index = end;
    return Number(value.padEnd(min, '0'));
  }

  literal(ch: string): boolean {
    if (this.text[this.index] !== ch) return false;
    this.index++;
    return true;
  }

  /** Milliseconds of a 1-9 digit fraction (digits past the millisecond are dropped). */
  fraction(): number | undefined {
    const start = this.index;
    if (this.digits(1, 9) === undefined) return undefined;
    return Number(this.text.slice(start, this.index).padEnd(3, '0').slice(0, 3));
  }
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses an ISO-8601 date-time **with** offset (`2024-05-01T10:00:00Z`, `...+02:00`) to epoch ms,
 * as `DateTimeFormatter.ISO_OFFSET_DATE_TIME` does, with Java's error wording (`Text '...' could not
 * be parsed at index N`, or the invalid field).
 */
export function parseOffsetDateTime(text: string): number {
  const scan = new Scanner(text);
  const failAt = (): never => {
    throw new DateTimeFormatError(`Text '${text}' could not be parsed at index ${scan.index}`);
  };
  const year = scan.digits(4, 4) ?? failAt();
  if (!scan.literal('-')) failAt();
  const month = scan.digits(2, 2) ?? failAt();
  if (!scan.literal('-')) failAt();
  const day = scan.digits(2, 2) ?? failAt();
  if (!scan.literal('T')) failAt();
  const hour = scan.digits(2, 2) ?? failAt();
  if (!scan.literal(':')) failAt();
  const minute = scan.digits(2, 2) ?? failAt();
  let second = 0;
  let millis = 0;
  if (scan.literal(':')) {
    second = scan.digits(2, 2) ?? failAt();
    if (scan.literal('.')) millis = scan.fraction() ?? failAt();
  }
  let offsetMillis = 0;
  if (!scan.literal('Z')) {
    const sign = text[scan.index] === '-' ? -1 : text[scan.index] === '+' ? 1 : failAt();
    scan.index++;
    const offsetHours = scan.digits(2, 2) ?? failAt();
    if (!scan.literal(':')) failAt();
    const offsetMinutes = scan.digits(2, 2) ?? failAt();
    const offsetSeconds = scan.literal(':') ? (scan.digits(2, 2) ?? failAt()) : 0;
    offsetMillis = sign * ((offsetHours * 60 + offsetMinutes) * 60 + offsetSeconds) * 1000;
  }
  if (scan.index !== text.length) {
    throw new DateTimeFormatError(
      `Text '${text}' could not be parsed, unparsed text found at index ${scan.index}`,
    );
  }
  const invalid = (field: string, range: string, value: number): never => {
    throw new DateTimeFormatError(
      `Text '${text}' could not be parsed: Invalid value for ${field} (valid values ${range}): ${value}`,
    );
  };
  if (month < 1 || month > 12) invalid('MonthOfYear', '1 - 12', month);
  if (day < 1 || day > 31) invalid('DayOfMonth', '1 - 28/31', day);
  if (hour > 23) invalid('HourOfDay', '0 - 23', hour);
  if (minute > 59) invalid('MinuteOfHour', '0 - 59', minute);
  if (second > 59) invalid('SecondOfMinute', '0 - 59', second);
  if (Math.abs(offsetMillis) > 18 * 3600 * 1000) {
    throw new DateTimeFormatError(
      `Text '${text}' could not be parsed: Zone offset not in valid range: -18:00 to +18:00`,
    );
  }
  if (day > daysInMonth(year, month)) {
    throw new DateTimeFormatError(
      `Text '${text}' could not be parsed: Invalid date '${day}' for month ${month}`,
    );
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMillis;
}

/**
 * Timestamps as the WebSocket API writes and reads them: Java's `ISO_OFFSET_DATE_TIME`.
 */

/**
 * Formats epoch milliseconds like Java's `ISO_OFFSET_DATE_TIME` in UTC: seconds always present,
 * the fraction only when non-zero and without trailing zeros (`...:38.9Z`, `...:00Z`).
 */
export function formatOffsetDateTime(epochMillis: number): string {
  const iso = new Date(epochMillis).toISOString(); // 2024-01-01T00:00:00.900Z
  const [withoutFraction = iso, fraction = ''] = iso.slice(0, -1).split('.');
  const trimmed = fraction.replace(/0+$/, '');
  return trimmed.length > 0 ? `${withoutFraction}.${trimmed}Z` : `${withoutFraction}Z`;
}

const OFFSET_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}(?::\d{2})?)$/;

export class DateTimeFormatError extends Error {
  override readonly name = 'DateTimeFormatError';
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses an ISO-8601 date-time **with** offset (`2024-05-01T10:00:00Z`, `...+02:00`) to epoch ms,
 * as `DateTimeFormatter.ISO_OFFSET_DATE_TIME` does; anything else throws DateTimeFormatError.
 */
export function parseOffsetDateTime(text: string): number {
  const match = OFFSET_DATE_TIME.exec(text);
  const fail = (): never => {
    throw new DateTimeFormatError(`Text '${text}' could not be parsed`);
  };
  if (match === null) return fail();
  const [, y, mo, d, h, mi, s = '0', frac = '', offset = 'Z'] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return fail();
  if (hour > 23 || minute > 59 || second > 59) return fail();
  let offsetMillis = 0;
  if (offset !== 'Z') {
    const sign = offset.startsWith('-') ? -1 : 1;
    const [oh = 0, om = 0, os = 0] = offset.slice(1).split(':').map(Number);
    if (oh > 18 || om > 59 || os > 59) return fail();
    offsetMillis = sign * ((oh * 60 + om) * 60 + os) * 1000;
  }
  const millis = Number(frac.padEnd(3, '0').slice(0, 3));
  return Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMillis;
}

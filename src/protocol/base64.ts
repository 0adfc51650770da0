/**
 * Strict standard base64 (RFC 4648 §4 alphabet) as Java's `Base64.getDecoder()` reads it: padding is
 * optional, whitespace and URL-safe characters are illegal. Node's own decoder silently skips bad
 * characters, which would turn a corrupt payload into different bytes instead of an error.
 */

export class Base64FormatError extends Error {
  override readonly name = 'Base64FormatError';
}

function isAlphabet(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2b || // +
    code === 0x2f // /
  );
}

/**
 * Decodes `text`, or throws Base64FormatError with Java's wording
 * (`Illegal base64 character 2d`, `Last unit does not have enough valid bits`, ...).
 */
export function decodeBase64Strict(text: string): Buffer {
  const firstPad = text.indexOf('=');
  const dataLength = firstPad >= 0 ? firstPad : text.length;
  const decoded = decodeIfWellFormed(text, firstPad, dataLength);
  if (decoded !== undefined) return decoded;
  // Characters are checked in order up to the first '=', as Java's decoder reports the first bad one.
  for (let i = 0; i < dataLength; i++) {
    const code = text.charCodeAt(i);
    if (!isAlphabet(code)) {
      throw new Base64FormatError(`Illegal base64 character ${code.toString(16)}`);
    }
  }
  if (firstPad >= 0) {
    for (let i = firstPad; i < text.length; i++) {
      if (text.charCodeAt(i) !== 0x3d) {
        throw new Base64FormatError(`Input byte array has incorrect ending byte at ${i}`);
      }
    }
    const padCount = text.length - firstPad;
    if (padCount > 2 || (dataLength + padCount) % 4 !== 0 || dataLength % 4 < 2) {
      throw new Base64FormatError(`Input byte array has wrong 4-byte ending unit`);
    }
  }
  if (dataLength % 4 === 1) {
    throw new Base64FormatError('Last unit does not have enough valid bits');
  }
  return Buffer.from(text.slice(0, dataLength), 'base64');
}

/**
 * The fast path, for every well-formed text (every publish of a small message goes through here):
 * Node's native decoder, and a check that it skipped nothing. Node reads both alphabets and skips
 * any other character, so a text holding one decodes to fewer bytes than its length implies (for
 * any length but 4n + 1, which is malformed anyway); `-` and `_`, the URL-safe characters Java
 * refuses, are looked for on their own. Undefined when in doubt: the exact path then names the error.
 * Checking each character in JavaScript cost about a twentieth of the broker's CPU under load.
 */
function decodeIfWellFormed(text: string, firstPad: number, dataLength: number): Buffer | undefined {
  if (dataLength % 4 === 1) return undefined;
  if (firstPad >= 0) {
    const padCount = text.length - firstPad;
    const padding = padCount === 1 || (padCount === 2 && text.charCodeAt(firstPad + 1) === 0x3d);
    if (!padding || text.length % 4 !== 0) return undefined;
  }
  if (text.includes('-') || text.includes('_')) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === Math.floor((dataLength * 3) / 4) ? bytes : undefined;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The value of each base64 alphabet byte, -1 for any other byte. */
const ALPHABET_VALUES = (() => {
  const values = new Int8Array(256).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let index = 0; index < alphabet.length; index++) values[alphabet.charCodeAt(index)] = index;
  return values;
})();

/**
 * Decodes `bytes[start, end)` when it is well-formed base64 as {@link decodeBase64Strict} accepts it
 * (optionally padded), straight from the bytes: no string as large as the payload is made, which for
 * large messages is memory only a later garbage collection gives back. Undefined for anything else,
 * so the caller asks decodeBase64Strict for the verdict and its exact wording.
 */
export function decodeBase64Bytes(bytes: Uint8Array, start: number, end: number): Buffer | undefined {
  let dataEnd = end;
  while (dataEnd > start && end - dataEnd < 2 && bytes[dataEnd - 1] === 0x3d) dataEnd--;
  const dataLength = dataEnd - start;
  const padded = end - dataEnd;
  if (dataLength % 4 === 1 || (padded > 0 && (dataLength + padded) % 4 !== 0)) return undefined;
  const output = Buffer.allocUnsafe(Math.floor((dataLength * 3) / 4));
  const whole = start + dataLength - (dataLength % 4);
  let out = 0;
  for (let index = start; index < whole; index += 4) {
    const a = ALPHABET_VALUES[bytes[index] as number] as number;
    const b = ALPHABET_VALUES[bytes[index + 1] as number] as number;
    const c = ALPHABET_VALUES[bytes[index + 2] as number] as number;
    const d = ALPHABET_VALUES[bytes[index + 3] as number] as number;
    if ((a | b | c | d) < 0) return undefined;
    output[out++] = (a << 2) | (b >> 4);
    output[out++] = ((b & 0x0f) << 4) | (c >> 2);
    output[out++] = ((c & 0x03) << 6) | d;
  }
  const tail = dataLength % 4;
  if (tail > 0) {
    const a = ALPHABET_VALUES[bytes[whole] as number] as number;
    const b = ALPHABET_VALUES[bytes[whole + 1] as number] as number;
    const c = tail === 3 ? (ALPHABET_VALUES[bytes[whole + 2] as number] as number) : 0;
    if ((a | b | c) < 0) return undefined;
    output[out++] = (a << 2) | (b >> 4);
    if (tail === 3) output[out] = ((b & 0x0f) << 4) | (c >> 2);
  }
  return output;
}

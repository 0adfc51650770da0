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
  // Characters are checked in order up to the first '=', as Java's decoder reports the first bad one.
  const firstPad = text.indexOf('=');
  const dataLength = firstPad >= 0 ? firstPad : text.length;
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

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

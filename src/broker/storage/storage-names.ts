/**
 * File and directory names for names that clients choose (topics, subscriptions). Pulsar accepts
 * names of any length (up to what fits in a request line: about 8 000 characters), while a file name
 * has at most 255 bytes on common file systems.
 *
 * A name whose percent-encoding fits is stored under that encoding, as earlier versions did, so their
 * data directories open unchanged and short names stay readable. A longer one is stored as a readable
 * prefix of the encoding, `#` and the SHA-256 of the full name; the full name is recorded inside
 * (`topic.json`, the cursor snapshot). `encodeURIComponent` always escapes `#`, so the two kinds
 * never collide.
 */
import { createHash } from 'node:crypto';

/** NAME_MAX of ext4, XFS, btrfs, tmpfs, overlayfs and ZFS, in bytes. */
const MAX_FILE_NAME_BYTES = 255;
/** How much of the encoded name a hashed name keeps in front, for people listing the directory. */
const HASHED_PREFIX_CHARS = 100;
const HASH_SEPARATOR = '#';

/**
 * The file or directory name for `name`, leaving room for the longest suffix the caller appends
 * (`.json.tmp-<pid>`, say). Deterministic: the same name always maps to the same file name.
 */
export function storageName(name: string, longestSuffix = 0): string {
  // encodeURIComponent's output is ASCII: its length is its size in bytes.
  const encoded = encodeURIComponent(name);
  if (encoded.length + longestSuffix <= MAX_FILE_NAME_BYTES) return encoded;
  return `${encodedPrefix(name)}${HASH_SEPARATOR}${createHash('sha256').update(name).digest('hex')}`;
}

/**
 * The name earlier versions stored `name` under, when they could store it at all (its encoding plus
 * the shortest suffix they appended fit), else undefined: for looking up data they wrote.
 */
export function legacyStorageName(name: string, shortestSuffix: number): string | undefined {
  const encoded = encodeURIComponent(name);
  return encoded.length + shortestSuffix <= MAX_FILE_NAME_BYTES ? encoded : undefined;
}

/** Whether a storage name is hashed, so the name it stands for must be read from the stored data. */
export function isHashedStorageName(storage: string): boolean {
  return storage.includes(HASH_SEPARATOR);
}

/** The name a non-hashed storage name stands for. */
export function nameOfStorageName(storage: string): string {
  return decodeURIComponent(storage);
}

/** The encoding of the name's first characters, at most HASHED_PREFIX_CHARS long. */
function encodedPrefix(name: string): string {
  let prefix = '';
  for (const char of name) {
    const encoded = encodeURIComponent(char);
    if (prefix.length + encoded.length > HASHED_PREFIX_CHARS) break;
    prefix += encoded;
  }
  return prefix;
}

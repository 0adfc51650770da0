/**
 * Where a topic's durable subscription cursors live: `<topic dir>/subscriptions/<storage name>.json`
 * (snapshot) and `.acks` (journal), the storage name being the URL-encoded subscription name, or for a
 * name too long for a file name a prefix and hash of it (storage-names.ts). A hashed file's
 * subscription name is the `subscription` field of its snapshot.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathExists, readTextIfExists } from '../../fs/missing-ok.js';
import { isHashedStorageName, legacyStorageName, nameOfStorageName, storageName } from './storage-names.js';

const SNAPSHOT_SUFFIX = '.json';
/** The longest file a cursor writes: its snapshot's temporary copy, `.json.tmp-<pid>` (pid ≤ 7 digits). */
const LONGEST_SUFFIX = '.json.tmp-'.length + 7;
/** Earlier versions stored a cursor whenever `.json.tmp-<pid>` fit, with a pid of one digit at best. */
const SHORTEST_LEGACY_SUFFIX = '.json.tmp-'.length + 1;

export class CursorFiles {
  /** Hashed storage name → subscription name, for the subscriptions seen while the topic is open. */
  private readonly hashedNames = new Map<string, string>();

  constructor(readonly dir: string) {}

  /** The path of a subscription's cursor files without their suffix (what CursorStore takes). */
  async basePath(subscription: string): Promise<string> {
    const storage = storageName(subscription, LONGEST_SUFFIX);
    // A name just short enough that an earlier version stored it under its encoding, which is now
    // hashed to leave room for every pid: keep using the files it wrote.
    const legacy = legacyStorageName(subscription, SHORTEST_LEGACY_SUFFIX);
    if (
      legacy !== undefined &&
      legacy !== storage &&
      (await pathExists(join(this.dir, legacy + SNAPSHOT_SUFFIX)))
    ) {
      return join(this.dir, legacy);
    }
    if (isHashedStorageName(storage)) this.hashedNames.set(storage, subscription);
    return join(this.dir, storage);
  }

  /** Names of the subscriptions with a stored cursor. */
  async names(): Promise<string[]> {
    let files: string[];
    try {
      files = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const names = await Promise.all(
      files
        .filter((file) => file.endsWith(SNAPSHOT_SUFFIX))
        .map((file) => file.slice(0, -SNAPSHOT_SUFFIX.length))
        .map(async (storage) =>
          isHashedStorageName(storage) ? this.hashedName(storage) : nameOfStorageName(storage),
        ),
    );
    return names.filter((name): name is string => name !== undefined);
  }

  private async hashedName(storage: string): Promise<string | undefined> {
    const known = this.hashedNames.get(storage);
    if (known !== undefined) return known;
    const text = await readTextIfExists(join(this.dir, storage + SNAPSHOT_SUFFIX));
    // Deleted (unsubscribed) since the directory was listed.
    if (text === undefined) return undefined;
    const { subscription } = JSON.parse(text) as { subscription?: unknown };
    if (typeof subscription !== 'string') throw new Error(`cursor snapshot ${storage} names no subscription`);
    this.hashedNames.set(storage, subscription);
    return subscription;
  }
}

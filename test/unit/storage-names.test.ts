/** Storage names for client-chosen names, cursor file lookup, and error text without file paths. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientMessage } from '../../src/broker/client-message.js';
import { CursorFiles } from '../../src/broker/storage/cursor-files.js';
import { isHashedStorageName, storageName } from '../../src/broker/storage/storage-names.js';

describe('storageName', () => {
  it('is the URL-encoding while it fits, with room for the suffix', () => {
    expect(storageName('persistent://public/default/a b')).toBe(
      'persistent%3A%2F%2Fpublic%2Fdefault%2Fa%20b',
    );
    expect(storageName('x'.repeat(255))).toBe('x'.repeat(255));
    expect(isHashedStorageName(storageName('x'.repeat(255)))).toBe(false);
    expect(isHashedStorageName(storageName('x'.repeat(240), 17))).toBe(true);
  });

  it('is a prefix, # and the SHA-256 beyond, deterministic and distinct for names sharing a prefix', () => {
    const a = storageName(`${'x'.repeat(300)}a`);
    const b = storageName(`${'x'.repeat(300)}b`);
    expect(a).toMatch(/^x{100}#[0-9a-f]{64}$/);
    expect(storageName(`${'x'.repeat(300)}a`)).toBe(a);
    expect(a).not.toBe(b);
  });

  it('keeps whole characters in the prefix, and never produces what encodeURIComponent could', () => {
    for (let shift = 0; shift < 3; shift++) {
      const name = `${'x'.repeat(shift)}${'é'.repeat(200)}`;
      const prefix = storageName(name).split('#')[0] ?? '';
      expect(() => decodeURIComponent(prefix)).not.toThrow();
      expect(prefix.length).toBeLessThanOrEqual(100);
    }
    expect(encodeURIComponent('#')).toBe('%23');
  });
});

describe('CursorFiles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pws-cursor-files-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('lists encoded and hashed cursors by their subscription names', async () => {
    const files = new CursorFiles(dir);
    const long = 's'.repeat(500);
    const longBase = await files.basePath(long);
    expect(longBase).toMatch(/#[0-9a-f]{64}$/);
    await writeFile(`${longBase}.json`, JSON.stringify({ version: 1, subscription: long }));
    await writeFile(`${await files.basePath('a b')}.json`, '{}');
    expect((await files.names()).sort()).toEqual(['a b', long]);
    // A fresh instance (after a restart) reads the hashed one's name from its snapshot.
    expect((await new CursorFiles(dir).names()).sort()).toEqual(['a b', long]);
  });

  it('keeps using a cursor an earlier version stored under a name now hashed', async () => {
    // 240 bytes: stored by earlier versions when their pid had at most 5 digits; hashed now.
    const name = 'L'.repeat(240);
    const files = new CursorFiles(dir);
    expect(await files.basePath(name)).toMatch(/#[0-9a-f]{64}$/);
    await writeFile(join(dir, `${name}.json`), '{}');
    expect(await files.basePath(name)).toBe(join(dir, name));
    expect(await files.names()).toEqual([name]);
  });
});

describe('clientMessage', () => {
  it('drops the paths of a system error and of the errors it wraps', () => {
    const system = Object.assign(
      new Error("EACCES: permission denied, open '/var/lib/broker/topics/x/ledger-1.log'"),
      {
        code: 'EACCES',
        path: '/var/lib/broker/topics/x/ledger-1.log',
      },
    );
    expect(clientMessage(system)).toBe('EACCES: permission denied, open');
    const wrapped = new Error(`failed to persist message: ${system.message}`, { cause: system });
    expect(clientMessage(wrapped)).toBe('failed to persist message: EACCES: permission denied, open');
    const rename = Object.assign(
      new Error("EXDEV: cross-device link not permitted, rename '/a/b' -> '/c/d'"),
      {
        path: '/a/b',
        dest: '/c/d',
      },
    );
    expect(clientMessage(rename)).toBe('EXDEV: cross-device link not permitted, rename');
    expect(clientMessage(new Error('Topic persistent://public/default/x does not exist'))).toBe(
      'Topic persistent://public/default/x does not exist',
    );
  });
});

/** The broker's on-disk store: crash recovery of logs and cursors, ledger rollover, locking. */
import { appendFile, mkdtemp, open, readdir, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CursorStore } from '../../src/broker/storage/cursor-store.js';
import { DataDirLockedError, lockDataDir } from '../../src/broker/storage/data-dir-lock.js';
import { LedgerIdAllocator } from '../../src/broker/storage/ledger-ids.js';
import { MessageLog } from '../../src/broker/storage/message-log.js';
import type { StoredMessage } from '../../src/broker/storage/record-codec.js';

const logger = pino({ enabled: false });
let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-storage-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function message(text: string, extra: Partial<StoredMessage> = {}): StoredMessage {
  return {
    payload: Buffer.from(text),
    properties: {},
    publishTime: 1,
    producerName: 'p',
    sequenceId: 0,
    ...extra,
  };
}

async function openLog(
  options: { maxSegmentBytes?: number; maxEntriesPerSegment?: number; cacheBytes?: number } = {},
): Promise<MessageLog> {
  return MessageLog.open(join(dir, 'topic'), await LedgerIdAllocator.open(dir), {
    fsync: true,
    maxSegmentBytes: options.maxSegmentBytes ?? 1 << 20,
    maxEntriesPerSegment: options.maxEntriesPerSegment ?? 50_000,
    cacheBytes: options.cacheBytes ?? 1 << 20,
    logger,
  });
}

describe('message log', () => {
  it('reads entries behind the cache in runs, in any order, each its own', async () => {
    const log = await openLog({ cacheBytes: 0, maxEntriesPerSegment: 300 });
    const texts = Array.from({ length: 700 }, (_, index) => `m${index}-${'x'.repeat(index % 50)}`);
    await Promise.all(texts.map((text) => log.append(message(text))));
    const inOrder = [];
    for (let ordinal = 0; ordinal < texts.length; ordinal++) {
      inOrder.push((await log.read(ordinal)).message.payload.toString());
    }
    expect(inOrder).toEqual(texts);
    for (const ordinal of [699, 0, 350, 299, 300, 5, 698]) {
      expect((await log.read(ordinal)).message.payload.toString()).toBe(texts[ordinal]);
    }
    await log.close();
  });

  it('completes short writes: every record lands whole', async () => {
    const probe = await open(join(dir, 'probe'), 'w');
    await probe.close();
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    const original = Reflect.get(proto, 'writev') as (this: FileHandle, ...args: unknown[]) => Promise<never>;
    // The kernel takes at most 7 bytes per call.
    const spy = vi.spyOn(proto, 'writev').mockImplementation(function (this: FileHandle, ...args: unknown[]) {
      const [buffers, position] = args as [Buffer[], number];
      return original.call(this, [Buffer.concat(buffers).subarray(0, 7)], position);
    });
    try {
      const log = await openLog();
      await Promise.all(['alpha', 'beta', 'gamma'].map((text) => log.append(message(text))));
      await log.close();
    } finally {
      spy.mockRestore();
    }
    const reopened = await openLog();
    const texts = await Promise.all(
      [0, 1, 2].map(async (ordinal) => (await reopened.read(ordinal)).message.payload.toString()),
    );
    expect(texts).toEqual(['alpha', 'beta', 'gamma']);
    await reopened.close();
  });

  it('appends concurrently, in order, and reads back through the cache and from disk', async () => {
    const log = await openLog({ cacheBytes: 0 });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => log.append(message(`m${i}`, { key: `k${i}` }))),
    );
    expect(results.map((r) => r.entryId)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const entry = await log.read(42);
    expect(entry.message.payload.toString()).toBe('m42');
    expect(entry.message.key).toBe('k42');
    await log.close();
  });

  it('starts a new ledger on reopen and on size rollover; ids keep ordering', async () => {
    let log = await openLog({ maxSegmentBytes: 200 });
    const first = await Promise.all(['a', 'b', 'c'].map((t) => log.append(message(t.repeat(100)))));
    await log.close();
    log = await openLog({ maxSegmentBytes: 200 });
    const after = await log.append(message('d'));
    const ledgers = [...first.map((r) => r.ledgerId), after.ledgerId];
    expect(new Set(ledgers).size).toBeGreaterThan(1);
    expect([...ledgers].sort((a, b) => a - b)).toEqual(ledgers);
    expect(log.length).toBe(4);
    expect(log.ordinalOf(after)).toBe(3);
    expect(log.firstOrdinalAfter(first[0]!)).toBe(1);
    expect(log.firstOrdinalAfter({ ledgerId: -1, entryId: -1 })).toBe(0);
    expect(log.firstOrdinalAfter({ ledgerId: 1e9, entryId: 0 })).toBe(4);
    await log.close();
  });

  it('cuts a torn last record after a crash and keeps every complete one', async () => {
    const log = await openLog();
    await Promise.all(['a', 'b', 'c'].map((t) => log.append(message(t))));
    await log.close();
    const [segment] = (await readdir(join(dir, 'topic'))).filter((name) => name.endsWith('.log'));
    const path = join(dir, 'topic', segment ?? '');
    const sizeBefore = (await stat(path)).size;
    // Half a record header plus garbage, as a crash mid-write leaves it.
    await appendFile(path, Buffer.from([0x40, 0x00, 0x00, 0x00, 0xde, 0xad]));
    const reopened = await openLog();
    expect(reopened.length).toBe(3);
    expect((await stat(path)).size).toBe(sizeBefore);
    expect((await reopened.read(2)).message.payload.toString()).toBe('c');
    await reopened.close();
  });

  it('cuts a last record whose checksum does not match, as a torn one', async () => {
    const log = await openLog();
    await Promise.all(['a', 'b'].map((t) => log.append(message(t))));
    await log.close();
    const [segment] = (await readdir(join(dir, 'topic'))).filter((name) => name.endsWith('.log'));
    const path = join(dir, 'topic', segment ?? '');
    const { size } = await stat(path);
    const handle = await import('node:fs/promises').then((fs) => fs.open(path, 'r+'));
    await handle.write(Buffer.from([0xff]), 0, 1, size - 1); // flip the last payload byte
    await handle.close();
    const reopened = await openLog();
    expect(reopened.length).toBe(1);
    await reopened.close();
  });
});

describe('cursor store', () => {
  it('replays the journal over the snapshot and ignores a torn last line', async () => {
    const base = join(dir, 'sub');
    const store = new CursorStore(base, 'sub', true, logger);
    await store.saveSnapshot(() => ({
      markDelete: { ledgerId: 1, entryId: 4 },
      acked: [{ ledgerId: 1, entryId: 9 }],
    }));
    store.recordAck({ ledgerId: 1, entryId: 6 });
    store.recordAck({ ledgerId: 2, entryId: 0 });
    await store.close();
    await appendFile(`${base}.acks`, '3:1'); // torn: no newline
    const loaded = await new CursorStore(base, 'sub', true, logger).load();
    expect(loaded).toEqual({
      markDelete: { ledgerId: 1, entryId: 4 },
      acked: [
        { ledgerId: 1, entryId: 9 },
        { ledgerId: 1, entryId: 6 },
        { ledgerId: 2, entryId: 0 },
      ],
    });
  });

  it('acks recorded while a snapshot is written land in the new journal', async () => {
    const base = join(dir, 'sub');
    const store = new CursorStore(base, 'sub', false, logger);
    await store.saveSnapshot(() => ({ markDelete: null, acked: [] }));
    await store.saveSnapshot(() => {
      // This ack arrives after the snapshot was taken, while its file is being written.
      queueMicrotask(() => store.recordAck({ ledgerId: 1, entryId: 5 }));
      return { markDelete: { ledgerId: 1, entryId: 0 }, acked: [] };
    });
    await store.close();
    const loaded = await new CursorStore(base, 'sub', false, logger).load();
    expect(loaded).toEqual({ markDelete: { ledgerId: 1, entryId: 0 }, acked: [{ ledgerId: 1, entryId: 5 }] });
  });

  it('an unknown subscription loads as undefined', async () => {
    expect(await new CursorStore(join(dir, 'nope'), 'nope', false, logger).load()).toBeUndefined();
  });
});

describe('data directory lock', () => {
  it('refuses a second owner and takes over a lock left by a dead process', async () => {
    const unlock = await lockDataDir(dir);
    await expect(lockDataDir(dir)).rejects.toThrow(DataDirLockedError);
    await unlock();
    await writeFile(join(dir, 'LOCK'), '999999999\n'); // no such pid
    const again = await lockDataDir(dir);
    await again();
  });
});

/**
 * With fsync on, a writable ledger is kept written with zeros ahead of its last record, so that the
 * synchronous write of each append stores data alone instead of also writing a new file size to the
 * filesystem (whose metadata writes stalled appends for 100 ms and more: `npm run bench:latency`).
 * What must hold: the zeros are bounded, never read as records, cut when the ledger is written no
 * more, and after a crash cut by recovery without being taken for a torn record.
 */
import { appendFile, mkdtemp, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LedgerIdAllocator } from '../../src/broker/storage/ledger-ids.js';
import { MessageLog } from '../../src/broker/storage/message-log.js';
import { PREALLOCATE_MAX_BYTES } from '../../src/broker/storage/segment.js';
import { capturingLogger, logPayloads, storedMessage } from '../helpers/message-log.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-prealloc-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const topicDir = (): string => join(dir, 'topic');

async function openLog(
  options: { fsync?: boolean; maxSegmentBytes?: number; logger?: Logger } = {},
): Promise<MessageLog> {
  return MessageLog.open(topicDir(), await LedgerIdAllocator.open(dir), {
    fsync: options.fsync ?? true,
    maxSegmentBytes: options.maxSegmentBytes ?? 64 << 20,
    maxEntriesPerSegment: 1_000_000,
    cacheBytes: 0,
    logger: options.logger ?? pino({ enabled: false }),
  });
}

/** Each ledger file's size, by name, in ledger order. */
async function ledgerSizes(): Promise<{ name: string; size: number }[]> {
  const names = (await readdir(topicDir())).filter((name) => name.endsWith('.log')).sort();
  return Promise.all(names.map(async (name) => ({ name, size: (await stat(join(topicDir(), name))).size })));
}

/** Appends `count` messages of `bytes` bytes one after another (each its own write and fdatasync). */
async function appendEach(log: MessageLog, count: number, bytes: number, tag = 'm'): Promise<string[]> {
  const texts: string[] = [];
  for (let index = 0; index < count; index++) {
    const text = `${tag}${index}-`.padEnd(bytes, 'x');
    await log.append(storedMessage(text));
    texts.push(text);
  }
  return texts;
}

describe('zeros written ahead of a ledger (fsync on)', () => {
  it('bounded while it is written, and cut once the log is closed: the file ends at its last record', async () => {
    const log = await openLog();
    const texts = await appendEach(log, 600, 1000);
    const [writing] = await ledgerSizes();
    await log.close();
    const [closed] = await ledgerSizes();
    // 600 records of about 1 KB: ahead of them at least the 256 KiB minimum, at most 1 MiB.
    expect(writing?.size).toBeGreaterThan((closed?.size ?? 0) + 128 * 1024);
    expect(writing?.size).toBeLessThanOrEqual((closed?.size ?? 0) + PREALLOCATE_MAX_BYTES);
    expect(closed?.size).toBeGreaterThan(600 * 1000);
    expect(closed?.size).toBeLessThan(600 * 1200);
    const reopened = await openLog();
    expect(await logPayloads(reopened)).toEqual(texts);
    await reopened.close();
  });

  it('after a crash, recovery cuts the zeros without calling them torn, and every record is there', async () => {
    const texts = await appendEach(await openLog(), 50, 200);
    // No close: the process died with the zeros still ahead of the records.
    const [before] = await ledgerSizes();
    const { logger, lines } = capturingLogger();
    const reopened = await openLog({ logger });
    expect(await logPayloads(reopened)).toEqual(texts);
    expect(lines().some((line) => 'tornBytes' in line)).toBe(false);
    const [after] = await ledgerSizes();
    expect(after?.size).toBeLessThan(before?.size ?? 0);
    await reopened.close();
  });

  it('a torn record in the zeros is still a torn record: cut and reported', async () => {
    const texts = await appendEach(await openLog(), 20, 200);
    const [ledger] = await ledgerSizes();
    const path = join(topicDir(), ledger?.name ?? '');
    // Half a record written over the zeros just past the last complete one, as a crash mid-write leaves.
    const end = (await stat(path)).size;
    const handle = await open(path, 'r+');
    const committed = await committedEnd(handle, end);
    await handle.write(Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 0x7b, 0x22]), 0, 10, committed);
    await handle.close();
    const { logger, lines } = capturingLogger();
    const reopened = await openLog({ logger });
    expect(await logPayloads(reopened)).toEqual(texts);
    expect(lines()).toContainEqual(expect.objectContaining({ msg: 'cut a torn record left by a crash' }));
    expect((await stat(path)).size).toBe(committed);
    await reopened.close();
  });

  it('a ledger that fills up is cut back to its records when the next one starts', async () => {
    const log = await openLog({ maxSegmentBytes: 100 * 1024 });
    await appendEach(log, 300, 1000);
    const sizes = await ledgerSizes();
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    // Every full ledger ends at its last record: about 100 KiB, not 100 KiB and the zeros.
    for (const full of sizes.slice(0, -1)) expect(full.size).toBeLessThan(110 * 1024);
    await log.close();
  });

  it('a disk too full for the zeros: every append is stored all the same, the warning comes once', async () => {
    const probe = await open(join(dir, 'probe'), 'w');
    await probe.close();
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    // Only preallocation uses `write` on a ledger (records go through `writev`).
    const refused = vi
      .spyOn(proto, 'write')
      .mockImplementation(() =>
        Promise.reject(Object.assign(new Error('ENOSPC: simulated, write'), { code: 'ENOSPC' })),
      );
    try {
      const { logger, lines } = capturingLogger();
      const log = await openLog({ logger });
      const texts = await appendEach(log, 200, 1000);
      expect(await logPayloads(log)).toEqual(texts);
      const warnings = lines().filter((line) => String(line.msg).startsWith('could not write zeros ahead'));
      expect(warnings).toHaveLength(1);
      const [ledger] = await ledgerSizes();
      expect(ledger?.size).toBeLessThan(200 * 1100);
      await log.close();
    } finally {
      refused.mockRestore();
    }
  });

  it('with fsync off, nothing is written ahead', async () => {
    const log = await openLog({ fsync: false });
    await appendEach(log, 100, 1000);
    const [ledger] = await ledgerSizes();
    expect(ledger?.size).toBeLessThan(100 * 1100);
    await log.close();
  });

  it('the zeros are never read as records, and a record appended later goes after the last one', async () => {
    const log = await openLog();
    const first = await appendEach(log, 10, 100, 'a');
    await log.close();
    const reopened = await openLog();
    const second = await appendEach(reopened, 10, 100, 'b');
    expect(await logPayloads(reopened)).toEqual([...first, ...second]);
    await reopened.close();
    // A file extended by hand past a closed ledger's end reads the same.
    const [ledger] = await ledgerSizes();
    await appendFile(join(topicDir(), ledger?.name ?? ''), Buffer.alloc(4096));
    const again = await openLog();
    expect(await logPayloads(again)).toEqual([...first, ...second]);
    await again.close();
  });
});

/** Where the records end in a ledger file followed by zeros: just after its last non-zero byte. */
async function committedEnd(handle: Awaited<ReturnType<typeof open>>, size: number): Promise<number> {
  const bytes = Buffer.alloc(size);
  await handle.read(bytes, 0, size, 0);
  let end = size;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end;
}

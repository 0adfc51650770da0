/**
 * With fsync on, a ledger file is opened with O_DSYNC: each write is durable when it completes, one
 * system call instead of a write and an fdatasync (src/broker/storage/segment.ts). What a power loss
 * would show cannot be tested here; that the ledger being written carries the flag, and only with
 * fsync on, can: Linux shows each open file's flags in /proc/self/fdinfo.
 */
import { constants } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerIdAllocator } from '../../src/broker/storage/ledger-ids.js';
import { MessageLog } from '../../src/broker/storage/message-log.js';
import { logPayloads, storedMessage } from '../helpers/message-log.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-dsync-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function openLog(fsync: boolean): Promise<MessageLog> {
  return MessageLog.open(join(dir, 'topic'), await LedgerIdAllocator.open(dir), {
    fsync,
    maxSegmentBytes: 64 << 20,
    maxEntriesPerSegment: 1_000_000,
    cacheBytes: 0,
    logger: pino({ enabled: false }),
  });
}

/** The open flags of each descriptor this process holds on a ledger file under `dir`. */
async function ledgerOpenFlags(): Promise<number[]> {
  const flags: number[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (!target.startsWith(dir) || !/ledger-\d+\.log$/.test(target)) continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8');
    const octal = /^flags:\s+([0-7]+)$/m.exec(info)?.[1];
    if (octal !== undefined) flags.push(Number.parseInt(octal, 8));
  }
  return flags;
}

describe.runIf(process.platform === 'linux')('synchronous ledger writes', () => {
  it('with fsync on, the ledger being written is open with O_DSYNC, and what it stored reads back', async () => {
    const log = await openLog(true);
    await log.append(storedMessage('one'));
    await log.append(storedMessage('two'));
    const flags = await ledgerOpenFlags();
    expect(flags).toHaveLength(1);
    expect((flags[0] ?? 0) & constants.O_DSYNC).toBe(constants.O_DSYNC);
    expect(await logPayloads(log)).toEqual(['one', 'two']);
    await log.close();
  });

  it('with fsync off, it is not: a write returns once the OS holds it', async () => {
    const log = await openLog(false);
    await log.append(storedMessage('one'));
    const flags = await ledgerOpenFlags();
    expect(flags).toHaveLength(1);
    expect((flags[0] ?? 0) & constants.O_DSYNC).toBe(0);
    await log.close();
  });
});

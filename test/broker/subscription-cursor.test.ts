/** A durable cursor's acknowledged ranges: what survives a restart, what a snapshot holds. */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CursorStore } from '../../src/broker/storage/cursor-store.js';
import { LedgerIdAllocator } from '../../src/broker/storage/ledger-ids.js';
import { MessageLog } from '../../src/broker/storage/message-log.js';
import { SubscriptionCursor } from '../../src/broker/topics/subscription-cursor.js';

const logger = pino({ enabled: false });
let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-cursor-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function logWith(entries: number): Promise<MessageLog> {
  const log = await MessageLog.open(join(dir, 'topic'), await LedgerIdAllocator.open(dir), {
    fsync: false,
    maxSegmentBytes: 1 << 30,
    maxEntriesPerSegment: 1000,
    cacheBytes: 0,
    logger,
  });
  const appends = Array.from({ length: entries }, (_, sequenceId) =>
    log.append({ payload: Buffer.from('m'), properties: {}, publishTime: 1, producerName: 'p', sequenceId }),
  );
  await Promise.all(appends);
  return log;
}

function openCursor(log: MessageLog): Promise<SubscriptionCursor> {
  const store = new CursorStore(join(dir, 'sub'), 'sub', false, logger);
  return SubscriptionCursor.open('sub', log, store, logger, 'Earliest');
}

describe('subscription cursor', () => {
  it('keeps acks behind one unacknowledged message as ranges, across a restart', async () => {
    const log = await logWith(5000);
    const cursor = await openCursor(log);
    // Entry 0 stays unacknowledged; every other one after it is acknowledged, out of order.
    for (let ordinal = 4999; ordinal >= 1; ordinal--) {
      if (ordinal % 2 === 1 || ordinal > 2500) cursor.acknowledge(log.positionOf(ordinal));
    }
    expect(cursor.firstUnacked).toBe(0);
    const backlog = cursor.backlog;
    await cursor.close();

    const reopened = await openCursor(log);
    expect(reopened.firstUnacked).toBe(0);
    expect(reopened.backlog).toBe(backlog);
    for (let ordinal = 0; ordinal < 5000; ordinal++) {
      const acked = ordinal > 0 && (ordinal % 2 === 1 || ordinal > 2500);
      expect(reopened.isAcked(ordinal)).toBe(acked);
    }
    // Loading compacts: the snapshot holds ranges, the contiguous tail as one of them.
    const snapshot = JSON.parse(await readFile(join(dir, 'sub.json'), 'utf8')) as {
      ackedRanges: unknown[];
      acked: unknown[];
    };
    expect(snapshot.acked).toEqual([]);
    expect(snapshot.ackedRanges.length).toBeLessThanOrEqual(1251);
    reopened.acknowledge(log.positionOf(0));
    // The first ack swallows the prefix up to the next gap.
    expect(reopened.firstUnacked).toBe(2);
    await reopened.close();
    await log.close();
  });

  it('reads a snapshot written by an earlier version (single acked positions)', async () => {
    const log = await logWith(10);
    await writeFile(
      join(dir, 'sub.json'),
      JSON.stringify({
        version: 1,
        subscription: 'sub',
        markDelete: log.positionOf(2),
        acked: [log.positionOf(4), log.positionOf(5)],
      }),
    );
    const cursor = await openCursor(log);
    expect(cursor.firstUnacked).toBe(3);
    expect(cursor.isAcked(4)).toBe(true);
    expect(cursor.isAcked(6)).toBe(false);
    expect(cursor.backlog).toBe(5);
    await cursor.close();
    await log.close();
  });
});

describe.runIf(process.getuid?.() === 0)('subscription cursor on a full disk', () => {
  it('keeps acks in memory while the journal cannot be written, and writes them once space is freed', async () => {
    const log = await logWith(100);
    const mount = join(dir, 'small');
    await mkdir(mount);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount]);
    try {
      const store = new CursorStore(join(mount, 'sub'), 'sub', true, logger);
      const cursor = await SubscriptionCursor.open('sub', log, store, logger, 'Earliest');
      // Fill the disk, then acknowledge: the journal write fails.
      const filler = join(mount, 'filler');
      await writeFile(filler, Buffer.alloc(60 * 1024)).catch(() => undefined);
      await writeFile(join(mount, 'filler2'), Buffer.alloc(64 * 1024)).catch(() => undefined);
      for (let ordinal = 0; ordinal < 50; ordinal++) cursor.acknowledge(log.positionOf(ordinal));
      await store.flushed();
      expect(store.needsSnapshot).toBe(true);
      expect(cursor.firstUnacked).toBe(50);
      // Space comes back; the next ack after the retry delay writes the whole cursor.
      await unlink(filler);
      await unlink(join(mount, 'filler2')).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      cursor.acknowledge(log.positionOf(50));
      for (let waited = 0; store.needsSnapshot && waited < 3000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(store.needsSnapshot).toBe(false);
      await cursor.close();
      const reopened = await SubscriptionCursor.open(
        'sub',
        log,
        new CursorStore(join(mount, 'sub'), 'sub', true, logger),
        logger,
        'Earliest',
      );
      expect(reopened.firstUnacked).toBe(51);
      await reopened.close();
    } finally {
      execFileSync('umount', [mount]);
      await log.close();
    }
  });
});

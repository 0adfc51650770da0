/**
 * A topic's read cache fills only while someone reads the topic as it grows (a subscription with a
 * consumer connected, or a reader), as Pulsar caches entries only while a cursor is active: a topic
 * written with nobody reading keeps no messages in memory, and the last reader to leave empties it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTopicName } from '../../src/protocol/index.js';
import { CursorStore } from '../../src/broker/storage/cursor-store.js';
import { LedgerIdAllocator } from '../../src/broker/storage/ledger-ids.js';
import { MessageLog } from '../../src/broker/storage/message-log.js';
import { ReaderCursor } from '../../src/broker/topics/reader-cursor.js';
import { Subscription } from '../../src/broker/topics/subscription.js';

const logger = pino({ enabled: false });
let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-cache-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function openLog(): Promise<MessageLog> {
  return MessageLog.open(join(dir, 'topic'), await LedgerIdAllocator.open(dir), {
    fsync: false,
    maxSegmentBytes: 1 << 30,
    maxEntriesPerSegment: 10_000,
    cacheBytes: 1 << 20,
    logger,
  });
}

let sequenceId = 0;
async function append(log: MessageLog, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, () =>
      log.append({
        payload: Buffer.from(`message ${sequenceId}`),
        properties: {},
        publishTime: 1,
        producerName: 'p',
        sequenceId: sequenceId++,
      }),
    ),
  );
}

async function payloads(log: MessageLog): Promise<string[]> {
  const read: string[] = [];
  for (let ordinal = 0; ordinal < log.length; ordinal++) {
    read.push((await log.read(ordinal)).message.payload.toString());
  }
  return read;
}

describe('read cache while the topic is read', () => {
  it('caches appends only while a reader is attached, and the last one to leave empties it', async () => {
    const log = await openLog();
    await append(log, 10);
    expect(log.cachedBytes).toBe(0);

    log.readerAttached();
    log.readerAttached();
    await append(log, 10);
    const cached = log.cachedBytes;
    expect(cached).toBeGreaterThan(0);
    log.readerDetached();
    expect(log.cachedBytes).toBe(cached);
    log.readerDetached();
    expect(log.cachedBytes).toBe(0);

    // Whatever was cached or not, every entry reads back, from the disk now.
    await append(log, 5);
    expect(log.cachedBytes).toBe(0);
    expect(await payloads(log)).toEqual(Array.from({ length: 25 }, (_, index) => `message ${index}`));
    await log.close();
  });

  it('counts a detach without an attach as the bug it is, not as a reader fewer', async () => {
    const log = await openLog();
    log.readerDetached();
    log.readerAttached();
    await append(log, 3);
    expect(log.cachedBytes).toBeGreaterThan(0);
    await log.close();
  });

  it('a subscription counts while it has consumers; a reader while it is open', async () => {
    const log = await openLog();
    const store = new CursorStore(join(dir, 'sub'), 'sub', false, logger);
    const topic = parseTopicName('persistent://public/default/cache-while-read');
    const subscription = await Subscription.open('sub', topic, log, store, logger, 'Earliest');
    await append(log, 5);
    expect(log.cachedBytes).toBe(0); // a subscription without consumers reads nothing now

    const first = { id: 1, name: 'c1', priorityLevel: 0 };
    const second = { id: 2, name: 'c2', priorityLevel: 0 };
    subscription.attach(first, 'Shared');
    subscription.attach(second, 'Shared');
    await append(log, 5);
    expect(log.cachedBytes).toBeGreaterThan(0);
    subscription.detach(first);
    expect(log.cachedBytes).toBeGreaterThan(0);
    subscription.detach(second);
    subscription.detach(second); // twice: still one reader fewer, not two
    expect(log.cachedBytes).toBe(0);

    const reader = new ReaderCursor(log, 0);
    await append(log, 5);
    expect(log.cachedBytes).toBeGreaterThan(0);
    reader.close();
    reader.close();
    expect(log.cachedBytes).toBe(0);

    subscription.attach(first, 'Exclusive');
    await append(log, 1);
    expect(log.cachedBytes).toBeGreaterThan(0);
    await subscription.unsubscribe();
    expect(log.cachedBytes).toBe(0);
    await log.close();
  });
});

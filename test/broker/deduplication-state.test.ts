/**
 * Deduplication state: a failed append frees its sequence id for the resend, and per-producer state is
 * bounded (producers disconnected past the inactivity timeout are forgotten, at most so many kept).
 */
import { mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LedgerIdAllocator } from '../../src/broker/storage/ledger-ids.js';
import { LogFailedError } from '../../src/broker/storage/log-errors.js';
import { MessageLog } from '../../src/broker/storage/message-log.js';
import type { StoredMessage } from '../../src/broker/storage/record-codec.js';
import {
  DeduplicationState,
  DuplicateUnknownError,
  type DeduplicationOptions,
} from '../../src/broker/topics/deduplication.js';
import { DUPLICATE_RESULT, Topic } from '../../src/broker/topics/topic.js';
import { parseTopicName } from '../../src/protocol/index.js';

const logger = pino({ enabled: false });
const MINUTE = 60_000;
let dir = '';
let log: MessageLog;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-dedup-'));
  log = await MessageLog.open(join(dir, 'topic'), await LedgerIdAllocator.open(dir), {
    fsync: false,
    maxSegmentBytes: 1 << 20,
    maxEntriesPerSegment: 50_000,
    cacheBytes: 1 << 20,
    logger,
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await log.close();
  await rm(dir, { recursive: true, force: true });
});

function message(producerName: string, sequenceId: number): StoredMessage {
  return { payload: Buffer.from('x'), properties: {}, publishTime: 1, producerName, sequenceId };
}

/** A clock the test moves. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

async function load(options: Partial<DeduplicationOptions> = {}): Promise<DeduplicationState> {
  return DeduplicationState.load(join(dir, 'topic', 'subscriptions', 'pulsar.dedup.snapshot'), {
    log,
    logger,
    producerInactivityTimeoutMillis: 360 * MINUTE,
    isConnected: () => false,
    ...options,
  });
}

/** Makes every segment write fail with ENOSPC until the returned function is called. */
async function diskFull(): Promise<() => void> {
  const probe = await open(join(dir, 'probe'), 'w');
  await probe.close();
  const proto = Object.getPrototypeOf(probe) as FileHandle;
  const spy = vi
    .spyOn(proto, 'writev')
    .mockImplementation(() =>
      Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })),
    );
  return () => spy.mockRestore();
}

describe('deduplication state', () => {
  it('a failed append frees its sequence id: the resend is accepted', () =>
    load().then((state) => {
      expect(state.accept('p', 5)).toBe(true);
      state.failed('p');
      expect(state.isStored('p', 5)).toBe(false);
      expect(state.accept('p', 5)).toBe(true);
      state.persistedAt(0, 'p', 5);
      expect(state.accept('p', 5)).toBe(false);
      expect(state.isStored('p', 5)).toBe(true);
    }));

  it('while a copy is being stored, another is not accepted; whether it is a duplicate shows once the copy settles', async () => {
    const state = await load();
    expect(state.accept('p', 1)).toBe(true);
    expect(state.accept('p', 2)).toBe(true);
    expect(state.accept('p', 2)).toBe(false); // the copy in flight
    expect(state.isStored('p', 2)).toBe(false);
    state.persistedAt(0, 'p', 1);
    state.failed('p'); // seq 2 failed: with nothing in flight, only what is stored counts
    expect(state.isStored('p', 2)).toBe(false);
    expect(state.accept('p', 2)).toBe(true);
  });

  it('forgets producers disconnected longer than the inactivity timeout (checked every third of it), never connected ones', async () => {
    const time = clock();
    const connected = new Set(['stays']);
    const state = await load({
      now: time.now,
      producerInactivityTimeoutMillis: 60 * MINUTE,
      isConnected: (producer) => connected.has(producer),
    });
    for (const [index, producer] of ['old', 'stays', 'recent'].entries()) {
      state.accept(producer, 1);
      state.persistedAt(index, producer, 1);
    }
    state.producerDisconnected('old');
    time.advance(40 * MINUTE);
    state.producerDisconnected('recent');
    time.advance(25 * MINUTE); // 'old' idle 65 min, 'recent' 25 min, 'stays' connected throughout
    state.producerDisconnected('nobody'); // a disconnect runs the check (due: a third of the timeout passed)
    expect(state.producerCount).toBe(2);
    expect(state.isStored('old', 1)).toBe(false);
    expect(state.isStored('stays', 1)).toBe(true);
    expect(state.isStored('recent', 1)).toBe(true);
    // A forgotten producer's messages are new again, as in Pulsar.
    expect(state.accept('old', 1)).toBe(true);
  });

  it('keeps at most maxIdleProducers disconnected producers, dropping the least recently active', async () => {
    const time = clock();
    const state = await load({ now: time.now, maxIdleProducers: 3 });
    for (let index = 0; index < 5; index++) {
      const producer = `p${index}`;
      state.accept(producer, 1);
      state.persistedAt(index, producer, 1);
      time.advance(1000);
      state.producerDisconnected(producer);
    }
    expect(state.producerCount).toBe(3);
    expect(['p0', 'p1', 'p2', 'p3', 'p4'].map((producer) => state.isStored(producer, 1))).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  it('the snapshot keeps when each producer went idle: a reload later forgets the expired ones', async () => {
    const time = clock();
    let state = await load({ now: time.now, producerInactivityTimeoutMillis: 60 * MINUTE });
    for (const [index, producer] of ['a', 'b'].entries()) {
      await log.append(message(producer, 1));
      state.accept(producer, 1);
      state.persistedAt(index, producer, 1);
    }
    state.producerDisconnected('a');
    time.advance(30 * MINUTE);
    state.producerDisconnected('b');
    await state.snapshot();
    const snapshot = JSON.parse(
      await readFile(join(dir, 'topic', 'subscriptions', 'pulsar.dedup.snapshot'), 'utf8'),
    ) as { producers: Record<string, number>; idleSince: Record<string, number> };
    expect(snapshot.producers).toEqual({ a: 1, b: 1 });
    expect(snapshot.idleSince).toEqual({ a: time.now() - 30 * MINUTE, b: time.now() });
    time.advance(45 * MINUTE); // 'a' idle 75 min, 'b' 45 min: the topic was unloaded meanwhile
    state = await load({ now: time.now, producerInactivityTimeoutMillis: 60 * MINUTE });
    expect(state.isStored('a', 1)).toBe(false);
    expect(state.isStored('b', 1)).toBe(true);
  });
});

describe('deduplicated topic', () => {
  async function openTopic(): Promise<Topic> {
    return Topic.open(parseTopicName('persistent://public/default/dedup'), join(dir, 'topic'), log, {
      fsync: false,
      deduplicationEnabled: () => true,
      deduplicationProducerInactivityTimeoutMillis: 360 * MINUTE,
      retention: () => ({ retentionTimeInMinutes: 0, retentionSizeInMB: 0 }),
      logger,
    });
  }

  it('a resend after a failed append is stored, not acknowledged as a duplicate', async () => {
    const topic = await openTopic();
    const release = topic.claimProducerName('p');
    expect((await topic.publish(message('p', 0))).entryId).toBe(0);
    const diskFreed = await diskFull();
    await expect(topic.publish(message('p', 1))).rejects.toThrow(LogFailedError);
    diskFreed();
    const resent = await topic.publish(message('p', 1));
    expect(resent).not.toEqual(DUPLICATE_RESULT);
    expect(resent.entryId).toBe(1);
    // And a real duplicate is still one.
    expect(await topic.publish(message('p', 1))).toEqual(DUPLICATE_RESULT);
    release();
    await topic.close();
  });

  it('a copy sent while the original is being stored: an error once the original fails, so it is sent again', async () => {
    const topic = await openTopic();
    await topic.publish(message('p', 0));
    const diskFreed = await diskFull();
    const original = topic.publish(message('p', 1));
    const copy = topic.publish(message('p', 1));
    await expect(original).rejects.toThrow(LogFailedError);
    await expect(copy).rejects.toThrow(DuplicateUnknownError);
    diskFreed();
    expect((await topic.publish(message('p', 1))).entryId).toBe(1);
    await topic.close();
  });
});

/**
 * The topic log on a bad day: writes that fail (a full disk, a failing disk), and ledgers damaged on
 * disk. A failed batch never comes back, the log takes appends again once the disk does, and damage
 * in the middle of a ledger is reported without dropping what follows it.
 */
import {
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LedgerIdAllocator } from '../../src/broker/storage/ledger-ids.js';
import { CorruptEntryError, EntryDeletedError, LogFailedError } from '../../src/broker/storage/log-errors.js';
import { MessageLog, type AppendResult } from '../../src/broker/storage/message-log.js';
import { encodeRecord, RECORD_HEADER_BYTES, stampChecksum } from '../../src/broker/storage/record-codec.js';
import { EmbeddedBroker } from '../../src/broker/index.js';
import { decodeMessageId, type DeliveredMessage } from '../../src/protocol/index.js';
import { capturingLogger, logPayloads, storedMessage } from '../helpers/message-log.js';
import { mountTmpfs, tmpfsUnavailable } from '../helpers/mounts.js';
import { publishAll } from '../helpers/publish.js';
import { consumerUrl, readerUrl, type Target } from '../helpers/target.js';
import { fromBase64, TestSocket } from '../helpers/ws-client.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-log-faults-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

async function openLog(
  topicDir: string,
  logger: Logger = pino({ enabled: false }),
  maxEntriesPerSegment = 50_000,
): Promise<MessageLog> {
  return MessageLog.open(topicDir, await LedgerIdAllocator.open(dir), {
    fsync: true,
    maxSegmentBytes: 1 << 20,
    maxEntriesPerSegment,
    cacheBytes: 0, // every read goes to disk
    logger,
  });
}

async function ledgerFiles(topicDir: string): Promise<string[]> {
  return (await readdir(topicDir)).filter((name) => name.endsWith('.log')).sort();
}

function ioError(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated, ${syscall} '/secret/path'`), { code, syscall });
}

/** The prototype of Node's FileHandle, whose `writev` and `truncate` the fault tests replace. */
async function fileHandlePrototype(): Promise<FileHandle> {
  const probe = await open(join(dir, 'probe'), 'w');
  await probe.close();
  return Object.getPrototypeOf(probe) as FileHandle;
}

/**
 * From the `skip + 1`-th segment write on: the first such write stores only `partialBytes` (as a disk
 * filling up mid-write does), every later one fails with `code`, until the spy is restored.
 */
async function failWrites(skip: number, partialBytes: number, code = 'ENOSPC'): Promise<() => void> {
  const proto = await fileHandlePrototype();
  // The real method, called with the handle it was called on.
  const original = Reflect.get(proto, 'writev') as (this: FileHandle, ...args: unknown[]) => Promise<never>;
  let calls = 0;
  const spy = vi.spyOn(proto, 'writev').mockImplementation(function (this: FileHandle, ...args: unknown[]) {
    calls++;
    if (calls <= skip) return original.apply(this, args);
    if (calls === skip + 1 && partialBytes > 0) {
      const [buffers, position] = args as [Buffer[], number];
      return original.call(this, [Buffer.concat(buffers).subarray(0, partialBytes)], position);
    }
    return Promise.reject(ioError(code, 'write'));
  });
  return () => spy.mockRestore();
}

async function failTruncate(): Promise<() => void> {
  const proto = await fileHandlePrototype();
  const spy = vi
    .spyOn(proto, 'truncate')
    .mockImplementation(() => Promise.reject(ioError('EIO', 'ftruncate')));
  return () => spy.mockRestore();
}

/** Bytes of the record of `storedMessage('x')`-sized payloads (all test payloads are one character). */
const RECORD_BYTES = encodeRecord(storedMessage('x')).length;

/** Appends `a`; then `x` and `texts` without waiting: `x` is written alone, the rest as later batches. */
async function appendBehindOne(
  log: MessageLog,
  texts: string[],
): Promise<{ x: AppendResult; settled: PromiseSettledResult<AppendResult>[] }> {
  await log.append(storedMessage('a'));
  await log.drained(); // so that `x` starts a write of its own
  const x = log.append(storedMessage('x'));
  const rest = texts.map((text) => log.append(storedMessage(text)));
  return { x: await x, settled: await Promise.allSettled(rest) };
}

describe('a write that fails', () => {
  it('full disk mid-batch: the batch and what is queued behind it fail, the partial batch is cut, the same ledger takes the next append once the disk does', async () => {
    const topicDir = join(dir, 'topic');
    const { logger, lines } = capturingLogger();
    // Four entries per ledger: after `a` and `x`, the next batch holds `b`, `c`; `d`, `e` wait behind it.
    const log = await openLog(topicDir, logger, 4);
    const restore = await failWrites(2, RECORD_BYTES); // `a` and `x` are written; `b` lands whole, then ENOSPC
    const { x, settled } = await appendBehindOne(log, ['b', 'c', 'd', 'e']);
    const [ledger] = await ledgerFiles(topicDir);
    const path = join(topicDir, ledger ?? '');
    expect(settled.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    const reasons = settled.map((result) => (result as PromiseRejectedResult).reason as Error);
    expect(reasons.every((reason) => reason instanceof LogFailedError)).toBe(true);
    expect(reasons[0]?.message).toBe('failed to persist message: ENOSPC: simulated');
    expect(reasons[2]?.message).toMatch(/not stored: the write of an earlier message of this topic failed/);
    // No path reaches a client.
    expect(reasons.map((reason) => reason.message).join()).not.toContain('/secret');
    // `b` was written whole, but cut off again.
    expect((await stat(path)).size).toBe(2 * RECORD_BYTES);
    expect(lines().filter((line) => line.level === 50)).toHaveLength(1);

    // Still full: the next append fails too, logged quietly (debug).
    await expect(log.append(storedMessage('f'))).rejects.toThrow(LogFailedError);
    expect(lines().filter((line) => line.level === 50)).toHaveLength(1);

    restore(); // space freed
    const g = await log.append(storedMessage('g'));
    expect(g).toMatchObject({ ledgerId: x.ledgerId, entryId: 2 });
    expect(lines().some((line) => line.msg === 'topic log writes succeed again')).toBe(true);
    await log.close();

    const reopened = await openLog(topicDir);
    expect(await logPayloads(reopened)).toEqual(['a', 'x', 'g']);
    await reopened.close();
  });

  it('a failed write that cannot be cut seals its ledger: the next append goes to a new ledger, and recovery stops at the seal', async () => {
    const topicDir = join(dir, 'topic');
    const log = await openLog(topicDir);
    const restoreWrites = await failWrites(2, RECORD_BYTES, 'EIO');
    const restoreTruncate = await failTruncate();
    const { x, settled } = await appendBehindOne(log, ['b', 'c']);
    expect(settled.every((result) => result.status === 'rejected')).toBe(true);
    const ledgerPath = join(topicDir, `ledger-${x.ledgerId}.log`);
    // The whole `b` record is still in the file, past the committed length the seal records (then
    // the zeros written ahead of the ledger's end, with fsync on).
    expect((await stat(ledgerPath)).size).toBeGreaterThanOrEqual(3 * RECORD_BYTES);
    expect(JSON.parse(await readFile(join(topicDir, `ledger-${x.ledgerId}.sealed`), 'utf8'))).toMatchObject({
      committedBytes: 2 * RECORD_BYTES,
      entries: 2,
    });
    restoreWrites();
    const d = await log.append(storedMessage('d'));
    expect(d.ledgerId).toBeGreaterThan(x.ledgerId);
    expect(d.entryId).toBe(0);
    await log.close();
    restoreTruncate();

    const { logger, lines } = capturingLogger();
    const reopened = await openLog(topicDir, logger);
    expect(await logPayloads(reopened)).toEqual(['a', 'x', 'd']);
    expect(lines()).toContainEqual(
      expect.objectContaining({ ledgerId: x.ledgerId, failedBatchBytes: RECORD_BYTES }),
    );
    expect((await stat(ledgerPath)).size).toBe(2 * RECORD_BYTES);
    await reopened.close();
  });

  it('while the seal cannot be recorded, appends fail; once it can, they succeed', async () => {
    const topicDir = join(dir, 'topic');
    const log = await openLog(topicDir);
    const first = await log.append(storedMessage('a'));
    // The seal's place is taken by a non-empty directory: writing it fails.
    const sealPath = join(topicDir, `ledger-${first.ledgerId}.sealed`);
    await mkdir(join(sealPath, 'blocker'), { recursive: true });
    const restoreWrites = await failWrites(0, 0, 'EIO');
    const restoreTruncate = await failTruncate();
    await expect(log.append(storedMessage('b'))).rejects.toThrow(LogFailedError);
    restoreWrites();
    restoreTruncate();
    await expect(log.append(storedMessage('c'))).rejects.toThrow(
      `cannot record the end of ledger ${first.ledgerId} after a failed write`,
    );
    await rm(sealPath, { recursive: true });
    const d = await log.append(storedMessage('d'));
    expect(d.ledgerId).toBeGreaterThan(first.ledgerId);
    expect(JSON.parse(await readFile(sealPath, 'utf8'))).toMatchObject({ committedBytes: RECORD_BYTES });
    await log.close();
    const reopened = await openLog(topicDir);
    expect(await logPayloads(reopened)).toEqual(['a', 'd']);
    await reopened.close();
  });

  it.skipIf(tmpfsUnavailable !== undefined)(
    `a real full disk (tmpfs), then freed: acknowledged messages only, none of the failed ones${tmpfsUnavailable === undefined ? '' : ` (skipped: ${tmpfsUnavailable})`}`,
    async () => {
      const mount = await mountTmpfs(1024 * 1024);
      try {
        const topicDir = join(mount.dir, 'topic');
        const log = await MessageLog.open(topicDir, await LedgerIdAllocator.open(mount.dir), {
          fsync: true,
          maxSegmentBytes: 64 << 20,
          maxEntriesPerSegment: 50_000,
          cacheBytes: 0,
          logger: pino({ enabled: false }),
        });
        const filler = join(mount.dir, 'filler');
        await writeFile(filler, Buffer.alloc(256 * 1024));
        const acked: string[] = [];
        const failed: string[] = [];
        // 20 KB payloads, ten at a time, until the disk refuses them.
        for (let round = 0; failed.length === 0 && round < 100; round++) {
          const texts = Array.from({ length: 10 }, (_, i) => `${round}-${i}-${'x'.repeat(20_000)}`);
          const results = await Promise.allSettled(texts.map((text) => log.append(storedMessage(text))));
          results.forEach((result, i) =>
            (result.status === 'fulfilled' ? acked : failed).push(texts[i] ?? ''),
          );
        }
        expect(failed.length).toBeGreaterThan(0);
        await rm(filler);
        const after = ['after-1', 'after-2'];
        for (const text of after) await log.append(storedMessage(text));
        await log.close();
        const reopened = await MessageLog.open(topicDir, await LedgerIdAllocator.open(mount.dir), {
          fsync: true,
          maxSegmentBytes: 64 << 20,
          maxEntriesPerSegment: 50_000,
          cacheBytes: 0,
          logger: pino({ enabled: false }),
        });
        expect(await logPayloads(reopened)).toEqual([...acked, ...after]);
        await reopened.close();
      } finally {
        await mount.remove();
      }
    },
  );
});

/** Writes a ledger file by hand: `seeded` as the broker writes them now, unseeded as it did before. */
async function writeLedger(path: string, texts: string[], kind: 'seeded' | 'unseeded'): Promise<number[]> {
  const offsets: number[] = [];
  const records = texts.map((text, entryId) => {
    const record = encodeRecord(storedMessage(text));
    if (kind === 'seeded') stampChecksum(record, entryId);
    else record.writeUInt32LE(crc32(record.subarray(RECORD_HEADER_BYTES)), 4);
    return record;
  });
  let offset = 0;
  for (const record of records) {
    offsets.push(offset);
    offset += record.length;
  }
  await writeFile(path, Buffer.concat(records));
  return offsets;
}

async function overwrite(path: string, position: number, bytes: Buffer): Promise<void> {
  const handle = await open(path, 'r+');
  await handle.write(bytes, 0, bytes.length, position);
  await handle.close();
}

/** Reads every entry; damaged ones as `!`. */
async function readAll(log: MessageLog): Promise<string[]> {
  const texts: string[] = [];
  for (let ordinal = 0; ordinal < log.length; ordinal++) {
    try {
      texts.push((await log.read(ordinal)).message.payload.toString());
    } catch (error) {
      if (!(error instanceof CorruptEntryError)) throw error;
      texts.push('!');
    }
  }
  return texts;
}

describe('a ledger damaged on disk', () => {
  const texts = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'];
  let topicDir = '';
  let path = '';
  beforeEach(async () => {
    topicDir = join(dir, 'topic');
    await mkdir(topicDir);
    path = join(topicDir, 'ledger-7.log');
    // New ledgers get ids after the hand-written one, as they would after it.
    await writeFile(join(dir, 'next-ledger-id'), '8\n');
  });

  it('a bad checksum in the middle: reported with ledger and entry, the entry skipped, the records after it kept with their ids', async () => {
    const offsets = await writeLedger(path, texts, 'seeded');
    const { size } = await stat(path);
    await overwrite(path, (offsets[2] ?? 0) + RECORD_HEADER_BYTES + 20, Buffer.from('#')); // inside m2's meta
    const { logger, lines } = capturingLogger();
    const log = await openLog(topicDir, logger);
    expect(log.length).toBe(6);
    expect(await readAll(log)).toEqual(['m0', 'm1', '!', 'm3', 'm4', 'm5']);
    expect(log.positionOf(3)).toEqual({ ledgerId: 7, entryId: 3 });
    await expect(log.read(2)).rejects.toBeInstanceOf(EntryDeletedError); // consumers skip it as a deleted one
    expect(lines()).toContainEqual(
      expect.objectContaining({ level: 50, ledgerId: 7, damagedEntries: [2], damagedCount: 1 }),
    );
    // Reported again, once, when dispatch skips it.
    expect(lines().filter((line) => line.entryId === 2 && line.level === 50)).toHaveLength(1);
    expect((await stat(path)).size).toBe(size); // nothing cut
    // New messages go to a new ledger, after the kept ones.
    const next = await log.append(storedMessage('new'));
    expect(log.ordinalOf(next)).toBe(6);
    await log.close();
  });

  it('a damaged length in the middle: the next intact record is found, and its checksum names its entry id', async () => {
    const offsets = await writeLedger(path, texts, 'seeded');
    await overwrite(path, offsets[1] ?? 0, Buffer.from([0xff, 0xff, 0x00, 0x00]));
    const log = await openLog(topicDir);
    expect(await readAll(log)).toEqual(['m0', '!', 'm2', 'm3', 'm4', 'm5']);
    await log.close();
  });

  it('a zeroed stretch over several records: the entries after it keep their ids', async () => {
    const offsets = await writeLedger(path, texts, 'seeded');
    const from = (offsets[1] ?? 0) + 10;
    await overwrite(path, from, Buffer.alloc((offsets[3] ?? 0) + 10 - from));
    const { logger, lines } = capturingLogger();
    const log = await openLog(topicDir, logger);
    expect(await readAll(log)).toEqual(['m0', '!', '!', '!', 'm4', 'm5']);
    expect(log.ordinalOf({ ledgerId: 7, entryId: 4 })).toBe(4);
    expect(lines()).toContainEqual(expect.objectContaining({ damagedEntries: [1, 2, 3] }));
    await log.close();
  });

  it('a torn last record is still cut, with a warning', async () => {
    await writeLedger(path, texts, 'seeded');
    const { size } = await stat(path);
    await writeFile(
      path,
      Buffer.concat([await readFile(path), encodeRecord(storedMessage('torn')).subarray(0, 12)]),
    );
    const { logger, lines } = capturingLogger();
    const log = await openLog(topicDir, logger);
    expect(await readAll(log)).toEqual(texts);
    expect((await stat(path)).size).toBe(size);
    expect(lines()).toContainEqual(expect.objectContaining({ level: 40, ledgerId: 7, tornBytes: 12 }));
    expect(lines().some((line) => line.level === 50)).toBe(false);
    await log.close();
  });

  it('a ledger written before checksums were seeded: read as before, a bad body in the middle skipped with ids kept', async () => {
    const offsets = await writeLedger(path, texts, 'unseeded');
    const intact = await openLog(topicDir);
    expect(await readAll(intact)).toEqual(texts);
    await intact.close();
    await overwrite(path, (offsets[3] ?? 0) + RECORD_HEADER_BYTES + 20, Buffer.from('#'));
    const log = await openLog(topicDir);
    expect(await readAll(log)).toEqual(['m0', 'm1', 'm2', '!', 'm4', 'm5']);
    await log.close();
  });

  it('a ledger written before checksums were seeded, with a damaged length: what follows is kept on disk, unread, and reported', async () => {
    const offsets = await writeLedger(path, texts, 'unseeded');
    const { size } = await stat(path);
    await overwrite(path, offsets[2] ?? 0, Buffer.from([0xff, 0xff, 0x00, 0x00]));
    const { logger, lines } = capturingLogger();
    const log = await openLog(topicDir, logger);
    expect(await readAll(log)).toEqual(['m0', 'm1']);
    expect((await stat(path)).size).toBe(size);
    expect(lines()).toContainEqual(
      expect.objectContaining({ level: 50, ledgerId: 7, unreadableBytes: size - (offsets[2] ?? 0) }),
    );
    await log.close();
  });
});

/** Every ledger file under `root`. */
async function findLedgers(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true });
  return entries.filter((name) => /(^|\/)ledger-\d+\.log$/.test(name)).map((name) => join(root, name));
}

describe('a damaged entry, served by the broker', () => {
  it('readers and consumers get every other message with its original id; publishing goes on', async () => {
    const dataDir = join(dir, 'data');
    let broker = await EmbeddedBroker.start({ port: 0, dataDir, fsync: 'always' });
    const target = (): Target => ({ wsUrl: broker.url, adminUrl: broker.httpUrl, embedded: true });
    const published = await publishAll(target(), 'damaged', ['m0', 'm1', 'm2', 'm3', 'm4']);
    await broker.stop();
    const [ledger] = await findLedgers(dataDir);
    if (ledger === undefined) throw new Error('no ledger written');
    const file = await readFile(ledger);
    // Damage m2's meta: records are the same size, so m2 starts at 2/5 of the file.
    const m2 = (file.length / 5) * 2;
    await overwrite(ledger, m2 + RECORD_HEADER_BYTES + 20, Buffer.from('#'));

    const { logger, lines } = capturingLogger();
    broker = await EmbeddedBroker.start({ port: 0, dataDir, fsync: 'always', logger });
    try {
      const expected = [0, 1, 3, 4].map((index) => ({
        payload: `m${index}`,
        id: decodeMessageId(published[index]?.messageId ?? ''),
      }));
      const reader = await TestSocket.open(readerUrl(target(), 'damaged', '?messageId=earliest'));
      const read = await reader.take<DeliveredMessage>(4);
      expect(read.map((m) => ({ payload: fromBase64(m.payload), id: decodeMessageId(m.messageId) }))).toEqual(
        expected,
      );
      expect(await reader.drain()).toEqual([]);
      await reader.close();

      const consumer = await TestSocket.open(
        consumerUrl(target(), 'damaged', 'sub', '?subscriptionInitialPosition=Earliest'),
      );
      const consumed = await consumer.take<DeliveredMessage>(4);
      expect(consumed.map((m) => fromBase64(m.payload))).toEqual(['m0', 'm1', 'm3', 'm4']);
      await consumer.close();

      // Key_Shared reads each entry's key before dispatch: the damaged one is skipped there too.
      for (const type of ['Shared', 'Key_Shared']) {
        const shared = await TestSocket.open(
          consumerUrl(
            target(),
            'damaged',
            `sub-${type}`,
            `?subscriptionType=${type}&subscriptionInitialPosition=Earliest`,
          ),
        );
        const got = await shared.take<DeliveredMessage>(4);
        expect(got.map((m) => fromBase64(m.payload)).sort()).toEqual(['m0', 'm1', 'm3', 'm4']);
        expect(await shared.drain()).toEqual([]);
        await shared.close();
      }

      const more = await publishAll(target(), 'damaged', ['m5']);
      expect(decodeMessageId(more[0]?.messageId ?? '').ledgerId).toBeGreaterThan(
        expected[0]?.id.ledgerId ?? 0,
      );
      const damaged = lines().filter((line) => line.level === 50);
      expect(damaged).toContainEqual(expect.objectContaining({ damagedEntries: [2] }));
      expect(damaged).toContainEqual(
        expect.objectContaining({ entryId: 2, ledgerId: expected[0]?.id.ledgerId }),
      );
    } finally {
      await broker.stop();
    }
  });
});

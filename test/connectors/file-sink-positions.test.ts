/**
 * The exactly-once file sink's positions per topic-partition: messages of several topics and
 * partitions, interleaved, redelivered after a crash in another interleaving, are each written once;
 * a version 1 state file (one topic's last message id) is read and rewritten as version 2; a message
 * of no known topic fails the sink naming the state file.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSink } from '../../src/connectors/file-sink.js';
import { encodeMessageId, type ConsumerMessage } from '../../src/index.js';
import { messageIdOf } from '../../src/protocol/index.js';
import { Tracked } from '../../src/streams/tracked.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-positions-'));
  dirs.push(dir);
  return dir;
}

/** A message `text` of `topic` with id (ledger, entry, partition). */
function message(text: string, topic: string | undefined, entry: number, partition = -1): ConsumerMessage {
  return {
    payload: Buffer.from(text),
    messageId: encodeMessageId(messageIdOf(partition < 0 ? 3 : 10 + partition, entry, partition)),
    ...(topic === undefined ? {} : { topic }),
    properties: {},
    publishTime: new Date(0),
    redeliveryCount: 0,
    ack: () => undefined,
    nack: () => undefined,
  };
}

const P = 'persistent://public/default/p';
const T = 'persistent://public/default/t';

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '');
}

describe('exactly-once file sink, one position per topic-partition', () => {
  it('messages of two partitions and a topic, redelivered in another interleaving after a crash: each written once', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.txt');
    const exactlyOnce = { subscription: 's' };
    const first = [
      message('p0-0', `${P}-partition-0`, 0, 0),
      message('p1-0', `${P}-partition-1`, 0, 1),
      message('t-0', T, 0),
      message('p1-1', `${P}-partition-1`, 1, 1),
    ];
    const sink = await FileSink.open(output, { exactlyOnce });
    await pipeline(Readable.from(first), sink);
    const state = JSON.parse(await readFile(`${output}.state.json`, 'utf8')) as { positions: object };
    expect(state.positions).toEqual({
      [`${P}-partition-0`]: first[0]?.messageId,
      [`${P}-partition-1`]: first[3]?.messageId,
      [T]: first[2]?.messageId,
    });
    // The broker redelivers what it has no ack for, and more, each partition in order; the
    // partitions' interleaving differs.
    const acked: string[] = [];
    const again = [
      message('p1-0', `${P}-partition-1`, 0, 1),
      message('t-0', T, 0),
      message('p1-1', `${P}-partition-1`, 1, 1),
      message('t-1', T, 1),
      message('p0-0', `${P}-partition-0`, 0, 0),
      message('p0-1', `${P}-partition-0`, 1, 0),
    ];
    const reopened = await FileSink.open(output, { exactlyOnce });
    await pipeline(
      Readable.from(again.map((m) => new Tracked(m, () => acked.push(m.payload.toString())))),
      reopened,
    );
    expect(acked.sort()).toEqual(again.map((m) => m.payload.toString()).sort());
    expect(await lines(output)).toEqual(['p0-0', 'p1-0', 't-0', 'p1-1', 't-1', 'p0-1']);
  });

  it('a message without a topic is positioned under exactlyOnce.topic and its partition', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.txt');
    const exactlyOnce = { subscription: 's', topic: P };
    await pipeline(
      Readable.from([message('a', undefined, 0, 2), message('b', undefined, 0, 1)]),
      await FileSink.open(output, { exactlyOnce }),
    );
    const state = JSON.parse(await readFile(`${output}.state.json`, 'utf8')) as { positions: object };
    expect(Object.keys(state.positions).sort()).toEqual([`${P}-partition-1`, `${P}-partition-2`]);
  });

  it('a message of no known topic fails the sink, naming the state file', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.txt');
    const sink = await FileSink.open(output, { exactlyOnce: { subscription: 's' } });
    await expect(pipeline(Readable.from([message('a', undefined, 0)]), sink)).rejects.toThrow(
      `exactly-once output ${output}.state.json needs each message's topic`,
    );
  });

  it('reads a version 1 state (one topic, upgraded before anything is written): redeliveries up to its id are skipped', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.txt');
    await writeFile(output, 'old-0\nold-1\nnot-synced\n');
    const { dev, ino } = await stat(output);
    const last = message('old-1', T, 1);
    await writeFile(
      `${output}.state.json`,
      `${JSON.stringify({ version: 1, topic: T, subscription: 's', dev, ino, offset: 12, lastMessageId: last.messageId })}\n`,
    );
    const sink = await FileSink.open(output, { exactlyOnce: { subscription: 's' } });
    expect(JSON.parse(await readFile(`${output}.state.json`, 'utf8'))).toEqual({
      version: 2,
      subscription: 's',
      dev,
      ino,
      offset: 12,
      positions: { [T]: last.messageId },
    });
    await pipeline(
      Readable.from([message('old-0', T, 0), last, message('new-2', T, 2), message('other', P, 0)]),
      sink,
    );
    expect(await lines(output)).toEqual(['old-0', 'old-1', 'new-2', 'other']);
  });

  it('refuses a state of another subscription, and a malformed one, naming the file', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.txt');
    const sink = await FileSink.open(output, { exactlyOnce: { subscription: 's' } });
    sink.destroy();
    await once(sink, 'close');
    await expect(FileSink.open(output, { exactlyOnce: { subscription: 'other' } })).rejects.toThrow(
      `state file ${output}.state.json is for subscription s, not other`,
    );
    await writeFile(`${output}.state.json`, '{"version":3}');
    await expect(FileSink.open(output, { exactlyOnce: { subscription: 's' } })).rejects.toThrow(
      `state file ${output}.state.json is malformed`,
    );
  });
});

/**
 * File source and sink: checkpoint resume, follow (append, rotation, truncation), fsync-then-ack, torn
 * tails, rotation, the exactly-once state recorded before the first write.
 */
import { once } from 'node:events';
import {
  appendFile,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/connectors/checkpoint.js';
import { FileSink } from '../../src/connectors/file-sink.js';
import { FileSource } from '../../src/connectors/file-source.js';
import { encodeMessageId, type ConsumerMessage, type ProducerMessageObject } from '../../src/index.js';
import { messageIdOf } from '../../src/protocol/index.js';
import { Tracked } from '../../src/streams/tracked.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-files-'));
  dirs.push(dir);
  return dir;
}

/** Reads `count` tracked messages from a source, marking each written (as a producer's ack would). */
async function drain(source: FileSource, count: number, ack = true): Promise<string[]> {
  const payloads: string[] = [];
  for await (const item of source as AsyncIterable<Tracked<ProducerMessageObject>>) {
    payloads.push(String(item.value.payload));
    if (ack) item.written();
    if (payloads.length === count) break;
  }
  return payloads;
}

function message(text: string): ConsumerMessage {
  return {
    payload: Buffer.from(text),
    messageId: 'id',
    properties: {},
    publishTime: new Date(0),
    redeliveryCount: 0,
    ack: () => undefined,
    nack: () => undefined,
  };
}

describe('file source', () => {
  it('checkpoint: a restart resumes after the acknowledged prefix, counting messages on', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.txt');
    await writeFile(input, 'a\nb\nc\nd\ne\n');
    const checkpoint = await CheckpointStore.open(join(dir, 'cp.json'));
    const first = await FileSource.open(input, { checkpoint });
    // Acknowledge a, b; c is read but not acknowledged.
    const seen: Tracked<ProducerMessageObject>[] = [];
    for await (const item of first as AsyncIterable<Tracked<ProducerMessageObject>>) {
      seen.push(item);
      if (seen.length === 3) break;
    }
    seen[1]?.written();
    seen[0]?.written();
    await checkpoint.flush();
    const reopened = await CheckpointStore.open(join(dir, 'cp.json'));
    expect(reopened.get(input)).toMatchObject({ offset: 4, messages: 2 });
    const second = await FileSource.open(input, { checkpoint: reopened });
    expect(second.firstMessage).toBe(2);
    expect(await drain(second, 3)).toEqual(['c', 'd', 'e']);
    await reopened.flush();
    expect((await CheckpointStore.open(join(dir, 'cp.json'))).get(input)).toMatchObject({
      offset: 10,
      messages: 5,
    });
  });

  it('follow: appended lines, then rotation (old file read to its end) and truncation', async () => {
    const dir = await tempDir();
    const input = join(dir, 'app.log');
    await writeFile(input, 'one\n');
    const source = await FileSource.open(input, { follow: true, pollIntervalMs: 20 });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const item of source as AsyncIterable<Tracked<ProducerMessageObject>>) {
        seen.push(String(item.value.payload));
        if (seen.length === 6) break;
      }
    })();
    const until = async (count: number) => {
      while (seen.length < count) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await until(1);
    await appendFile(input, 'two\nthr');
    await until(2);
    await appendFile(input, 'ee\n');
    await until(3);
    await appendFile(input, 'last-of-old');
    await rename(input, `${input}.1`);
    await writeFile(input, 'new-1\n');
    await until(5);
    await truncate(input, 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await writeFile(input, 'after-truncate\n');
    await reading;
    expect(seen).toEqual(['one', 'two', 'three', 'last-of-old', 'new-1', 'after-truncate']);
  });

  it('follow: a truncate and rewrite past the position between two polls is noticed by the first bytes', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.log');
    await writeFile(input, 'first-a\nfirst-b\n');
    const source = await FileSource.open(input, { follow: true, pollIntervalMs: 200 });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const item of source as AsyncIterable<Tracked<ProducerMessageObject>>) {
        seen.push(String(item.value.payload));
        if (seen.length === 5) break;
      }
    })();
    while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    // Within one poll interval: cut to 0 and rewrite longer than what was read (the size alone
    // would look like an append).
    await truncate(input, 0);
    await writeFile(input, 'second-a\nsecond-b\nsecond-c\n');
    await reading;
    expect(seen).toEqual(['first-a', 'first-b', 'second-a', 'second-b', 'second-c']);
  });

  it('a missing file is a clear error', async () => {
    await expect(FileSource.open('/nonexistent/in.txt')).rejects.toThrow(
      /cannot open \/nonexistent\/in\.txt/,
    );
  });
});

describe('file sink', () => {
  it('acknowledges only after fsync (here: at the end), and repairs a torn last record on open', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.txt');
    await writeFile(output, 'kept\ntorn-par');
    const sink = await FileSink.open(output, { fsyncIntervalMs: 60_000 });
    const acked: string[] = [];
    const tracked = ['x', 'y'].map((text) => new Tracked(message(text), () => acked.push(text)));
    sink.write(tracked[0]);
    sink.write(tracked[1]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(acked).toEqual([]);
    sink.end();
    await new Promise((resolve) => sink.once('finish', resolve));
    expect(acked).toEqual(['x', 'y']);
    expect(await readFile(output, 'utf8')).toBe('kept\nx\ny\n');
  });

  it('rotates by time: a non-empty file is renamed at the interval and a new one started', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.txt');
    const sink = await FileSink.open(output, { rotateIntervalMs: 100 });
    sink.write(message('before'));
    await new Promise((resolve) => setTimeout(resolve, 250));
    sink.write(message('after'));
    sink.end();
    await new Promise((resolve) => sink.once('finish', resolve));
    const files = (await readdir(dir)).sort();
    expect(files[0]).toBe('out.txt');
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files[1]).toMatch(/^out\.txt\.\d{8}T\d{6}Z-1$/);
    expect(await readFile(join(dir, files[1] ?? ''), 'utf8')).toBe('before\n');
  });

  it('rotates by size and writes NDJSON envelopes', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.ndjson');
    const sink = await FileSink.open(output, { format: 'ndjson', rotateBytes: 300 });
    await pipeline(Readable.from(Array.from({ length: 10 }, (_, i) => message(`m${i}`))), sink);
    const files = (await readdir(dir)).sort();
    expect(files.length).toBeGreaterThan(1);
    const lines: string[] = [];
    for (const file of files)
      lines.push(...(await readFile(join(dir, file), 'utf8')).split('\n').filter(Boolean));
    const payloads = lines.map((line) => (JSON.parse(line) as { payload: string }).payload).sort();
    expect(payloads).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      messageId: 'id',
      encoding: 'utf8',
      publishTime: '1970-01-01T00:00:00.000Z',
    });
  });

  it('exactly-once: the state is recorded on open, before anything is written; what is written and not fsynced is cut on reopen', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.txt');
    await writeFile(output, 'earlier\ntorn');
    const exactlyOnce = { topic: 'persistent://public/default/t', subscription: 's' };
    const sink = await FileSink.open(output, { exactlyOnce, fsyncIntervalMs: 60_000 });
    const { dev, ino } = await stat(output);
    // The size at open (the torn record cut), which file it is, and no message yet.
    expect(JSON.parse(await readFile(`${output}.state.json`, 'utf8'))).toEqual({
      version: 2,
      subscription: 's',
      dev,
      ino,
      offset: 8,
      positions: {},
    });
    const acked: number[] = [];
    const written = Array.from({ length: 3 }, (_, i) => ({
      ...message(`new-${i}`),
      messageId: encodeMessageId(messageIdOf(5, i)),
    }));
    written.forEach((m, i) => sink.write(new Tracked(m, () => acked.push(i))));
    while ((await readFile(output, 'utf8')) !== 'earlier\nnew-0\nnew-1\nnew-2\n')
      await new Promise((resolve) => setTimeout(resolve, 5));
    // A crash before the first fsync: nothing acknowledged, the state still says 8 bytes.
    sink.destroy();
    await once(sink, 'close');
    expect(acked).toEqual([]);
    const reopened = await FileSink.open(output, { exactlyOnce });
    expect(await readFile(output, 'utf8')).toBe('earlier\n');
    await pipeline(Readable.from(written.map((m, i) => new Tracked(m, () => acked.push(i)))), reopened);
    expect(acked).toEqual([0, 1, 2]);
    expect(await readFile(output, 'utf8')).toBe('earlier\nnew-0\nnew-1\nnew-2\n');
    expect(JSON.parse(await readFile(`${output}.state.json`, 'utf8'))).toMatchObject({
      offset: 26,
      positions: { [exactlyOnce.topic]: written[2]?.messageId },
    });
  });
});

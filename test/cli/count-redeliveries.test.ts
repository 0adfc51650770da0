/**
 * `topic-to-file --count N` counts the lines it writes, not the deliveries: after a crash whose
 * output and state were saved but whose acks never reached the broker, the broker redelivers what
 * the file already holds; the exactly-once state skips those, and they must not end the run early
 * (they did: --count 300 over 300 redeliveries exited 0 having written nothing new).
 * Embedded broker, or real Pulsar (PULSAR_WS_URL).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FileSink } from '../../src/connectors/file-sink.js';
import { cliOf, useTempDirs } from '../helpers/file-outputs.js';
import { publishAll } from '../helpers/publish.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const tempDir = useTempDirs('pws-count-');
const cli = cliOf(target);

describe('topic-to-file --count after redeliveries', () => {
  it('redeliveries of lines already in the file do not count: --count 300 writes 300 new lines', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out.txt');
    const topic = uniqueTopic('count-redeliveries');
    const payloads = Array.from({ length: 600 }, (_, i) => `line-${i}`);
    // The subscription exists (from the earliest message) before anything is published.
    const created = await cli([
      ...['topic-to-file', '--topic', topic, '--subscription', 'sub', '--initial-position', 'Earliest'],
      ...['--file', join(dir, 'unused.txt'), '--idle-exit', '0.5', '--quiet'],
    ]);
    expect(created.code, created.stderr).toBe(0);
    const published = await publishAll(target, topic, payloads);
    // A previous run that wrote and recorded the first 300 lines, then died before its acks left.
    const fullTopic = `persistent://public/default/${topic}`;
    const sink = await FileSink.open(output, { exactlyOnce: { subscription: 'sub' } });
    await pipeline(
      Readable.from(
        published.slice(0, 300).map(({ payload, messageId }) => ({
          payload: Buffer.from(payload),
          messageId,
          topic: fullTopic,
          properties: {},
          publishTime: new Date(),
          redeliveryCount: 0,
        })),
      ),
      sink,
    );

    const run = await cli([
      ...['topic-to-file', '--topic', topic, '--subscription', 'sub', '--file', output],
      ...['--count', '300', '--idle-exit', '30', '--quiet'],
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect((await readFile(output, 'utf8')).split('\n').slice(0, -1)).toEqual(payloads);
  });
});

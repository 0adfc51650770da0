/**
 * Stream lifecycles against a real server: abort signals, end() bounded when acks never come, a
 * closed client, and every error code of docs/errors.md raised somewhere in the source.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, ClosedError, PulsarWsClient, TimeoutError } from '../../src/index.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(url = target.wsUrl): PulsarWsClient {
  const made = new PulsarWsClient({ url });
  cleanups.push(() => made.close());
  return made;
}

describe('stream lifecycles', () => {
  it('aborting a consumer signal destroys it with an AbortError', async () => {
    const controller = new AbortController();
    const consumer = client().consumer(uniqueTopic('abort'), 's', { signal: controller.signal });
    const failed = new Promise<Error>((resolve) => consumer.once('error', resolve));
    consumer.resume();
    setTimeout(() => controller.abort(new Error('operator said stop')), 100);
    const error = await failed;
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).code).toBe('PWS_ERR_ABORTED');
    expect((error.cause as Error).message).toBe('operator said stop');
  });

  it('a producer given an aborted signal fails its pipeline with an AbortError', async () => {
    const producer = client().producer(uniqueTopic('abort'), { signal: AbortSignal.abort() });
    const error = await pipeline(Readable.from(['a']), producer).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AbortError);
  });

  it("end() whose acks never come fails with a TimeoutError after finishTimeoutMs, not 'finish'", async () => {
    const proxy = await startFaultProxy(target.wsUrl);
    cleanups.push(() => proxy.close());
    proxy.dropFrames('toClient', (text) => text.includes('"result"'));
    const producer = client(proxy.url).producer(uniqueTopic('no-acks'), { finishTimeoutMs: 500 });
    let finished = false;
    producer.on('finish', () => (finished = true));
    const error = await pipeline(Readable.from(['a', 'b']), producer).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/did not acknowledge 2 message\(s\) within 500 ms/);
    expect(finished).toBe(false);
  });

  it('a closed client refuses new streams with a ClosedError', async () => {
    const closed = client();
    await closed.close();
    expect(() => closed.producer('t')).toThrow(ClosedError);
  });

  it('bad timing options fail when the client is made, naming the option', () => {
    expect(() => new PulsarWsClient({ url: target.wsUrl, pongTimeoutMs: 0 })).toThrow(
      /expected `pongTimeoutMs` to be a number of ms > 0 and <= 2147483647, got 0/,
    );
    expect(() => new PulsarWsClient({ url: target.wsUrl, connectTimeoutMs: -1 })).toThrow(
      /`connectTimeoutMs` to be a number of ms > 0 and <= 2147483647, or Infinity/,
    );
    expect(() => new PulsarWsClient({ url: target.wsUrl, connectTimeoutMs: Infinity })).not.toThrow();
    // Past Node's timer range a timeout would fire after 1 ms: refused, not silently wrong.
    expect(() => new PulsarWsClient({ url: target.wsUrl, handshakeTimeoutMs: 3e9 })).toThrow(
      /handshakeTimeoutMs/,
    );
    expect(() => new PulsarWsClient({ url: target.wsUrl }).producer('t', { finishTimeoutMs: 3e9 })).toThrow(
      /finishTimeoutMs/,
    );
  });

  it('every error class docs/errors.md lists is raised somewhere in src/', async () => {
    const doc = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const classes = [...doc.matchAll(/^\| `PWS_ERR_\w+` +\| `(\w+)`/gm)].map((match) => match[1] ?? '');
    expect(classes.length).toBeGreaterThanOrEqual(9);
    const root = new URL('../../', import.meta.url).pathname;
    for (const name of classes) {
      const raisedIn = execFileSync('grep', ['-rl', `new ${name}(`, 'src'], { cwd: root, encoding: 'utf8' });
      expect(raisedIn.trim(), `${name} is never raised`).not.toBe('');
    }
  });
});

/**
 * `--receiver-queue-size` on the consuming commands (built CLI, child processes): a bad value exits 2
 * naming the flag and the value before anything is opened, and the window a command really uses is
 * seen on the wire through a proxy: a consumer's first permit is the whole window and what it asked
 * for and did not receive never exceeds it; a reader's server runs the whole window ahead of its
 * acks once stdout stops being read, and never more.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PulsarWsClient } from '../../src/index.js';
import { PIPE_RECEIVER_QUEUE_SIZE } from '../../src/streams/consumer-stream.js';
import { PIPE_READER_QUEUE_SIZE } from '../../src/streams/reader-stream.js';
import { CLI_PATH } from '../helpers/broker-process.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { runCli, until } from '../helpers/sidecar.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
let dir = '';
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-cli-window-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function publish(topic: string, count: number, bytes: number): Promise<void> {
  const client = new PulsarWsClient({ url: target.wsUrl });
  try {
    const payload = 'x'.repeat(bytes);
    await pipeline(Readable.from(Array.from({ length: count }, () => payload)), client.producer(topic));
  } finally {
    await client.close();
  }
}

/** What crossed the proxy: permits granted, messages delivered, acks sent, and how far ahead each side ran. */
interface Wire {
  readonly permits: number[];
  delivered: number;
  acks: number;
  /** Max over time of permits granted minus messages delivered (a consumer's outstanding permits). */
  maxPermitsAhead: number;
  /** Max over time of messages delivered minus acks sent (a reader's window in use). */
  maxDeliveredAhead: number;
}

async function watchedProxy(): Promise<{ proxy: FaultProxy; wire: Wire }> {
  const proxy = await startFaultProxy(target.wsUrl);
  cleanups.push(() => proxy.close());
  const wire: Wire = { permits: [], delivered: 0, acks: 0, maxPermitsAhead: 0, maxDeliveredAhead: 0 };
  const granted = (): number => wire.permits.reduce((sum, permits) => sum + permits, 0);
  const update = (): void => {
    wire.maxPermitsAhead = Math.max(wire.maxPermitsAhead, granted() - wire.delivered);
    wire.maxDeliveredAhead = Math.max(wire.maxDeliveredAhead, wire.delivered - wire.acks);
  };
  // Observed, never dropped.
  proxy.dropFrames('toServer', (text) => {
    const frame = JSON.parse(text) as { type?: string; permitMessages?: number; messageId?: string };
    if (frame.type === 'permit') wire.permits.push(frame.permitMessages ?? 0);
    else if (frame.type === undefined && frame.messageId !== undefined) wire.acks += 1;
    update();
    return false;
  });
  proxy.dropFrames('toClient', (text) => {
    if ((JSON.parse(text) as { payload?: string }).payload !== undefined) wire.delivered += 1;
    update();
    return false;
  });
  return { proxy, wire };
}

describe('--receiver-queue-size', () => {
  it('exits 2 on a bad value, naming the flag and the value, before anything is opened', async () => {
    const output = join(dir, 'never.txt');
    const common = ['--url', 'ws://127.0.0.1:1', '--log-level', 'error'];
    const cases: [string[], RegExp][] = [
      [['consume', 't', '--subscription', 's', '--receiver-queue-size', '0'], /integer >= 1, got 0$/m],
      [
        [
          'topic-to-file',
          '--topic',
          't',
          '--subscription',
          's',
          '--file',
          output,
          '--receiver-queue-size',
          '2.5',
        ],
        /integer >= 1, got 2\.5$/m,
      ],
      [
        [
          'topic-to-s3',
          '--topic',
          't',
          '--subscription',
          's',
          '--bucket',
          'b',
          '--receiver-queue-size',
          '-1',
        ],
        /integer >= 1, got -1$/m,
      ],
      [
        ['consume', 't', '--subscription', 's', '--receiver-queue-size', 'many'],
        /expects a number, got "many"$/m,
      ],
      [['consume', 't', '--subscription', 's', '--receiver-queue-size'], /expects a number, got none$/m],
      [['read', 't', '--receiver-queue-size', '1001'], /integer from 1 to 1000, got 1001$/m],
      [['read', 't', '--receiver-queue-size', '0'], /integer from 1 to 1000, got 0$/m],
    ];
    for (const [args, message] of cases) {
      const result = await runCli([...args, ...common]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^pulsar-ws: --receiver-queue-size (must be an|expects a number)/m);
      expect(result.stderr).toMatch(message);
    }
    expect(existsSync(output)).toBe(false);
  });

  it('consume and topic-to-file: the first permit is the whole window and what is asked for never exceeds it', async () => {
    const topic = uniqueTopic('cli-window');
    await publish(topic, 300, 100);
    const runs: { args: string[]; window: number }[] = [
      { args: ['consume', topic, '--subscription', 'explicit', '--receiver-queue-size', '50'], window: 50 },
      { args: ['consume', topic, '--subscription', 'default'], window: PIPE_RECEIVER_QUEUE_SIZE },
      {
        args: [
          ...['topic-to-file', '--topic', topic, '--subscription', 'file', '--file', join(dir, 'out.txt')],
          ...['--receiver-queue-size', '120'],
        ],
        window: 120,
      },
    ];
    for (const { args, window } of runs) {
      const { proxy, wire } = await watchedProxy();
      const result = await runCli([
        ...args,
        '--count',
        '300',
        '--url',
        proxy.url,
        '--quiet',
        '--log-level',
        'error',
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(wire.delivered).toBeGreaterThanOrEqual(300);
      expect(wire.permits[0], args.join(' ')).toBe(window);
      expect(wire.maxPermitsAhead, args.join(' ')).toBe(window);
    }
  });

  it('read: with stdout not read, the server runs the whole window ahead of the acks, never more', async () => {
    const topic = uniqueTopic('cli-window-read');
    // 1 KB lines: once stdout backs up the command takes no more messages, so the server fills the
    // window and it stays unacknowledged. What the command took before that varies (a few hundred).
    await publish(topic, PIPE_RECEIVER_QUEUE_SIZE + 1000, 1023);
    for (const window of [40, undefined]) {
      const { proxy, wire } = await watchedProxy();
      const flag = window === undefined ? [] : ['--receiver-queue-size', String(window)];
      const child = spawn(
        process.execPath,
        [CLI_PATH, 'read', topic, '--start', 'earliest', ...flag, '--url', proxy.url, '--log-level', 'error'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      cleanups.push(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      child.stdout.pause();
      const expected = window ?? PIPE_READER_QUEUE_SIZE;
      await until(`the reader's window of ${expected} in use`, () =>
        Promise.resolve(wire.maxDeliveredAhead >= expected),
      );
      // The server sends nothing past the window.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(wire.maxDeliveredAhead, `delivered ${wire.delivered}, acks ${wire.acks}`).toBe(expected);
      child.kill('SIGKILL');
    }
  });
});

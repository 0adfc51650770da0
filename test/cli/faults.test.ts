/**
 * The CLI on the worst day, run as an operator runs it (the built binary, child processes):
 * - a network path that freezes mid-stream (no FIN, no RST) under `topic-to-file` and
 *   `file-to-topic`, with the server's idle timeout at 10 s: every line arrives, exit 0;
 * - a server that sends nonsense: `consume` / `produce` exit 1 within 5 s with one `pulsar-ws:` line
 *   naming the problem, no stack trace;
 * - a wrong `--url`: every command exits 1 within the connect bound, naming the URL.
 * The freeze tests run against the embedded broker and real Pulsar (PULSAR_WS_URL; CI sets Pulsar's
 * `webSocketSessionIdleTimeoutMillis` to 10 s); the others against the embedded broker.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessageId, messageIdOf } from '../../src/protocol/index.js';
import { CLI_PATH } from '../helpers/broker-process.js';
import { runNode, type ChildRun } from '../helpers/child-process.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { deadPort } from '../helpers/ports.js';
import { publishAll, range } from '../helpers/publish.js';
import { externalTarget, uniqueTopic, useTarget } from '../helpers/target.js';
import { expectAllDelivered, topicPayloads } from '../helpers/topics.js';

const target = useTarget({ idleTimeoutMillis: 10_000 });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-cli-faults-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function proxyTo(url: string): Promise<FaultProxy> {
  const proxy = await startFaultProxy(url);
  cleanups.push(() => proxy.close());
  return proxy;
}

function cli(args: string[]): Promise<ChildRun> {
  return runNode([CLI_PATH, ...args, '--log-level', 'warn']);
}

/** What a demanding operator expects of a failure: exit 1, one `pulsar-ws:` line, no stack. */
function expectOneLineFailure(run: ChildRun, problem: RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  const lines = run.stderr.split('\n').filter((line) => line.startsWith('pulsar-ws:'));
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(problem);
  expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(run.stderr).not.toMatch(/ {4}at /);
}

const FROZEN_TIMEOUT = 120_000;

describe('CLI through a path that freezes mid-stream', () => {
  it(
    'topic-to-file: frozen while a producer keeps publishing directly; every line written, exit 0',
    async () => {
      const dir = await tempDir();
      const output = join(dir, 'out.txt');
      const topic = uniqueTopic('cli-freeze-read');
      const first = range(3000, 'a');
      const second = range(3000, 'b');
      await publishAll(target, topic, first);
      const proxy = await proxyTo(target.wsUrl);
      // Freeze once 1 000 messages have come through: mid-stream, with permits and acks in flight.
      proxy.freezeAfter(1000, 'toClient');
      // The producer goes straight to the server, in bursts over a few seconds: the topic keeps
      // growing while the consumer's path is frozen.
      const publishing = (async () => {
        while (proxy.connections === 0) await new Promise((resolve) => setTimeout(resolve, 50));
        for (let burst = 0; burst < 6; burst++) {
          await publishAll(target, topic, second.slice(burst * 500, (burst + 1) * 500));
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      })();
      const run = await cli([
        'topic-to-file',
        '--url',
        proxy.url,
        '--topic',
        topic,
        '--subscription',
        'freeze',
        '--file',
        output,
        '--count',
        String(first.length + second.length),
      ]);
      await publishing;
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/silent/);
      const lines = (await readFile(output, 'utf8')).split('\n').slice(0, -1);
      const duplicates = expectAllDelivered('topic-to-file through a frozen path', lines, [
        ...first,
        ...second,
      ]);
      expect(lines.length).toBe(first.length + second.length + duplicates);
    },
    FROZEN_TIMEOUT,
  );

  it(
    'file-to-topic: frozen mid-stream; every line stored, exit 0',
    async () => {
      const dir = await tempDir();
      const input = join(dir, 'in.txt');
      const lines = range(20_000, 'line-');
      await writeFile(input, `${lines.join('\n')}\n`);
      const topic = uniqueTopic('cli-freeze-write');
      const proxy = await proxyTo(target.wsUrl);
      proxy.freezeAfter(5000, 'toServer');
      const run = await cli(['file-to-topic', '--url', proxy.url, '--file', input, '--topic', topic]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/silent/);
      expect(proxy.connections).toBeGreaterThan(1);
      expectAllDelivered('file-to-topic through a frozen path', await topicPayloads(target, topic), lines);
    },
    FROZEN_TIMEOUT,
  );
});

const validId = encodeMessageId(messageIdOf(7, 3));
const validMessage = {
  messageId: validId,
  payload: Buffer.from('x').toString('base64'),
  properties: {},
  publishTime: '2026-01-01T00:00:00.000Z',
  redeliveryCount: 0,
};

describe.skipIf(externalTarget)(
  'CLI and a server that sends nonsense (embedded only: the proxy injects)',
  () => {
    for (const [name, frame, problem] of [
      ['a frame that is not JSON', 'oops{', /consumer frame that is not JSON/],
      ['a JSON array', '[1,2]', /invalid consumer frame: expected a JSON object, got an array/],
      [
        'a delivered message without payload',
        JSON.stringify({ ...validMessage, payload: undefined }),
        /invalid consumer frame: field `payload` is missing/,
      ],
      [
        'a delivered message with a non-string messageId',
        JSON.stringify({ ...validMessage, messageId: { id: 1 } }),
        /invalid consumer frame: field `messageId` expected a string, got an object/,
      ],
    ] as const) {
      it(`consume: ${name} exits 1 within 5 s with one line`, async () => {
        const proxy = await proxyTo(target.wsUrl);
        proxy.injectOnConnect(frame);
        const started = Date.now();
        const run = await cli([
          'consume',
          uniqueTopic('nonsense'),
          '--url',
          proxy.url,
          '--subscription',
          's',
          '--count',
          '1',
        ]);
        expect(Date.now() - started).toBeLessThan(5_000);
        expectOneLineFailure(run, problem);
        expect(run.stderr).toMatch(/PWS_ERR_PROTOCOL/);
      });
    }

    for (const [name, ack, problem] of [
      [
        'an ack that is not an object',
        '"ok"',
        /invalid producer ack: expected a JSON object, got the string "ok"/,
      ],
      ['an ack that is not JSON', 'not json', /producer ack that is not JSON/],
      ['an ok ack without messageId', '{"result":"ok","context":"0"}', /field `messageId` is missing/],
    ] as const) {
      it(`produce: ${name} exits 1 within 5 s with one line`, async () => {
        const proxy = await proxyTo(target.wsUrl);
        proxy.dropFrames('toClient', () => true);
        proxy.injectOnConnect(ack);
        const started = Date.now();
        const run = await cli(['produce', uniqueTopic('nonsense'), '--url', proxy.url, '-m', 'a', '-m', 'b']);
        expect(Date.now() - started).toBeLessThan(5_000);
        expectOneLineFailure(run, problem);
      });
    }
  },
);

describe.skipIf(externalTarget)('CLI with a wrong --url (nothing listening)', () => {
  async function everyCommand(
    url: string,
    extra: string[],
  ): Promise<{ name: string; run: ChildRun; ms: number }[]> {
    const dir = await tempDir();
    const input = join(dir, 'in.txt');
    await writeFile(input, 'one\ntwo\n');
    const commands: [string, string[]][] = [
      ['produce', ['produce', 't', '-m', 'x']],
      ['consume', ['consume', 't', '--subscription', 's']],
      ['read', ['read', 't']],
      ['file-to-topic', ['file-to-topic', '--file', input, '--topic', 't']],
      ['stdin-to-topic', ['stdin-to-topic', '--topic', 't']],
      [
        'topic-to-file',
        ['topic-to-file', '--topic', 't', '--subscription', 's', '--file', join(dir, 'out.txt')],
      ],
      [
        'topic-to-s3',
        [
          'topic-to-s3',
          '--topic',
          't',
          '--subscription',
          's',
          '--bucket',
          'b',
          '--endpoint',
          'http://127.0.0.1:1',
        ],
      ],
      ['webhook-to-topic', ['webhook-to-topic', '--port', '0', '--topic', 't']],
    ];
    return Promise.all(
      commands.map(async ([name, args]) => {
        const started = Date.now();
        const run = await cli([...args, '--url', url, ...extra]);
        return { name, run, ms: Date.now() - started };
      }),
    );
  }

  it('every command exits 1 within --connect-timeout, naming the URL', async () => {
    const url = `ws://127.0.0.1:${await deadPort()}`;
    for (const { name, run, ms } of await everyCommand(url, ['--connect-timeout', '2'])) {
      expect(run.code, `${name}: ${run.stderr}`).toBe(1);
      expectOneLineFailure(run, new RegExp(`${url.replace(/[.]/g, '\\.')}.*`));
      expect(run.stderr, name).toMatch(/could not connect .* within 2000 ms/);
      // 2 s of trying, plus Node's start-up and the machine's load.
      expect(ms, name).toBeLessThan(15_000);
    }
  }, 60_000);

  it('the default bound is 30 s: a command gives up after it, naming the URL', async () => {
    const url = `ws://127.0.0.1:${await deadPort()}`;
    const started = Date.now();
    const run = await cli(['consume', 't', '--subscription', 's', '--url', url]);
    expectOneLineFailure(
      run,
      /could not connect to ws:\/\/127\.0\.0\.1:\d+\/ws\/v2\/consumer.* within 30000 ms/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(29_000);
  }, 90_000);

  it('--connect-timeout with a bad value exits 2 naming it', async () => {
    const run = await cli([
      'consume',
      't',
      '--subscription',
      's',
      '--url',
      'ws://127.0.0.1:1',
      '--connect-timeout',
      '-3',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--connect-timeout must be a number of seconds >= 0, got -3/);
  });
});

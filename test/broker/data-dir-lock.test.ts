/**
 * The data-directory lock (issue "Embedded broker under load", point 6): an OS lock the kernel drops
 * when the broker dies, so a killed broker restarts at once, also as PID 1 of its own PID namespace
 * (a container entrypoint), while two live brokers on one directory are still refused.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, EmbeddedBroker } from '../../src/broker/index.js';
import { lockDataDir, LOCK_FILE } from '../../src/broker/storage/data-dir-lock.js';
import { CLI_PATH, startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { titled } from '../helpers/prerequisites.js';
import { base64, fromBase64, TestSocket } from '../helpers/ws-client.js';

let dir: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-lock-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

let topicCounter = 0;

/** Publishes one message on a fresh topic and reads it back through a consumer: the broker serves. */
async function roundTrip(wsUrl: string, payload: string): Promise<string> {
  const path = `persistent/public/default/lock-check-${topicCounter++}`;
  const consumer = await TestSocket.open(
    `${wsUrl}/ws/v2/consumer/${path}/sub?subscriptionInitialPosition=Earliest`,
  );
  const producer = await TestSocket.open(`${wsUrl}/ws/v2/producer/${path}`);
  try {
    producer.send({ payload: base64(payload), context: 'c' });
    expect(await producer.next()).toMatchObject({ result: 'ok' });
    const message = await consumer.next<{ payload: string; messageId: string }>();
    consumer.send({ messageId: message.messageId });
    return fromBase64(message.payload);
  } finally {
    await producer.close();
    await consumer.close();
  }
}

describe('data directory lock in one process', () => {
  it('a second broker on the same directory is refused, naming the directory; the first keeps serving', async () => {
    const first = await EmbeddedBroker.start({ port: 0, dataDir: dir, fsync: 'never' });
    cleanups.push(() => first.stop());
    const second = EmbeddedBroker.start({ port: 0, dataDir: dir, fsync: 'never' });
    await expect(second).rejects.toThrow(DataDirLockedError);
    await expect(second).rejects.toThrow(`data directory ${dir} is in use by another broker`);
    expect(await roundTrip(first.url, 'still served')).toBe('still served');
    await first.stop();
    // Released on stop: the next broker starts.
    const third = await EmbeddedBroker.start({ port: 0, dataDir: dir, fsync: 'never' });
    cleanups.push(() => third.stop());
    expect(await roundTrip(third.url, 'after restart')).toBe('after restart');
  });

  it('a refused lock leaves the held one intact; release is idempotent and the file stays', async () => {
    const unlock = await lockDataDir(dir);
    await expect(lockDataDir(dir)).rejects.toThrow(DataDirLockedError);
    // The failed attempt closed its connection; the lock is still held, for another process too.
    await expect(lockDataDir(dir)).rejects.toThrow(DataDirLockedError);
    expect(lockedByOtherProcess(dir)).toBe(true);
    await unlock();
    await unlock();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    expect(lockedByOtherProcess(dir)).toBe(false);
    const again = await lockDataDir(dir);
    await again();
  });

  it('a LOCK file of an earlier version is removed when its pid is gone or is our own', async () => {
    for (const pid of [999_999_999, process.pid]) {
      await writeFile(join(dir, 'LOCK'), `${pid}\n`);
      const unlock = await lockDataDir(dir);
      expect(existsSync(join(dir, 'LOCK'))).toBe(false);
      await unlock();
    }
  });

  it('a LOCK file of an earlier version naming another live process is refused, and says what to do', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    cleanups.push(async () => {
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
    });
    await writeFile(join(dir, 'LOCK'), `${other.pid}\n`);
    await expect(lockDataDir(dir)).rejects.toThrow(
      /may be in use by a broker of an earlier version: .*LOCK names pid \d+, which is running/,
    );
    // The new lock was given back.
    expect(lockedByOtherProcess(dir)).toBe(false);
  });
});

/** Whether a separate process fails to take the lock (it is held). */
function lockedByOtherProcess(dataDir: string): boolean {
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      `const { DatabaseSync } = require('node:sqlite');
       const db = new DatabaseSync(process.argv[1]);
       try { db.exec('BEGIN EXCLUSIVE'); process.stdout.write('free'); }
       catch (error) { process.stdout.write(error.errcode === 5 ? 'locked' : String(error)); }`,
      join(dataDir, LOCK_FILE),
    ],
    { encoding: 'utf8' },
  );
  if (probe.stdout !== 'locked' && probe.stdout !== 'free')
    throw new Error(`probe: ${probe.stdout}${probe.stderr}`);
  return probe.stdout === 'locked';
}

describe.runIf(existsSync(CLI_PATH))('data directory lock across processes (built CLI)', () => {
  const running: BrokerProcess[] = [];
  afterEach(async () => {
    for (const broker of running.splice(0)) {
      broker.child.kill('SIGKILL');
      await broker.exited;
    }
  });

  it('a second broker process is refused with exit 2 and a clear message', async () => {
    running.push(await startBrokerProcess(['--data-dir', dir]));
    const second = spawnSync(process.execPath, [CLI_PATH, 'broker', '--port', '0', '--data-dir', dir], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(second.status).toBe(2);
    expect(second.stderr).toContain(`data directory ${dir} is in use by another broker`);
  });

  it('a broker killed with SIGKILL is replaced at once by a new one on the same directory', async () => {
    const first = await startBrokerProcess(['--data-dir', dir]);
    running.push(first);
    expect(await roundTrip(first.url, 'before the kill')).toBe('before the kill');
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const second = await startBrokerProcess(['--data-dir', dir]);
    running.push(second);
    expect(await roundTrip(second.url, 'after the kill')).toBe('after the kill');
  });
});

/** Why the PID-1 test cannot run here, or undefined. */
function pidNamespaceMissing(): string | undefined {
  if (!existsSync(CLI_PATH)) return `${CLI_PATH} is missing: run npm run build`;
  if (process.getuid?.() !== 0) return 'needs root for unshare --pid';
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
  if (probe.error !== undefined) return 'no unshare on PATH (util-linux)';
  if (probe.status !== 0) return 'unshare --pid --fork --mount-proc is not permitted here';
  return undefined;
}

const namespaceMissing = pidNamespaceMissing();

interface NamespacedBroker {
  readonly url: string;
  /** The broker's pid as seen from here (it is 1 inside its namespace). */
  readonly brokerPid: number;
  /** SIGKILLs the whole process group (unshare and the namespace's init, the broker). */
  kill(): Promise<void>;
}

/** `unshare --pid --fork --mount-proc node dist/cli/main.js broker ...`: the broker runs as PID 1. */
async function startAsPid1(dataDir: string): Promise<NamespacedBroker> {
  const child = spawn(
    'unshare',
    [
      '--pid',
      '--fork',
      '--mount-proc',
      process.execPath,
      CLI_PATH,
      'broker',
      '--port',
      '0',
      '--data-dir',
      dataDir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch (error) {
      // ESRCH: the group is gone already.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
    await exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`not ready within 15 s; stderr:\n${stderr}`)), 15_000);
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /ready at (wss?:\/\/\S+)/.exec(stdout);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`exited before it was ready; stderr:\n${stderr}`));
      });
    });
    const children = await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8');
    const brokerPid = Number(children.trim().split(' ')[0]);
    return { url, brokerPid, kill };
  } catch (error) {
    await kill();
    throw error;
  }
}

describe(titled('data directory lock as PID 1 of a PID namespace', namespaceMissing), () => {
  it.skipIf(namespaceMissing !== undefined)(
    'a PID-1 broker SIGKILLed starts again at once on the same directory and serves',
    async () => {
      const first = await startAsPid1(dir);
      cleanups.push(() => first.kill());
      // NSpid lists the pid in each namespace, ours first: the last one is the broker's own view.
      const nsPid = /^NSpid:\s+(.*)$/m.exec(await readFile(`/proc/${first.brokerPid}/status`, 'utf8'))?.[1];
      expect(nsPid?.trim().split(/\s+/).at(-1)).toBe('1');
      expect(await roundTrip(first.url, 'pid 1, first life')).toBe('pid 1, first life');
      await first.kill();

      const second = await startAsPid1(dir);
      cleanups.push(() => second.kill());
      expect(await roundTrip(second.url, 'pid 1, second life')).toBe('pid 1, second life');
    },
  );
});

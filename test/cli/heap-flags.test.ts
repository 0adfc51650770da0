/**
 * The heap flags each command runs with: connector commands get a capped heap (re-executed by the bin
 * with the flags), the broker and the sidecar none, and a flag the user gave Node is never overridden.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { heapFlagsFor } from '../../src/cli/heap-flags.js';
import { CLI_PATH, startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { deadPort } from '../helpers/ports.js';

describe('heapFlagsFor', () => {
  it('caps connector commands, gives the broker no cap (a smaller young generation, paced GC) and the sidecar nothing', () => {
    const flags = ['--max-semi-space-size=4', '--max-old-space-size=256'];
    expect(heapFlagsFor(['topic-to-file', '--topic', 't'], [], undefined)).toEqual(flags);
    expect(heapFlagsFor(['consume', 't'], [], '')).toEqual(flags);
    expect(heapFlagsFor(['broker', '--port', '0'], [], undefined)).toEqual([
      '--max-semi-space-size=16',
      '--expose-gc',
    ]);
    expect(heapFlagsFor(['sidecar', '--config', 'x.yaml'], [], undefined)).toEqual([]);
    expect(heapFlagsFor(['--help'], [], undefined)).toEqual([]);
  });

  it('leaves out a flag the user gave Node, in either spelling', () => {
    expect(heapFlagsFor(['consume', 't'], ['--max-old-space-size=1024'], undefined)).toEqual([
      '--max-semi-space-size=4',
    ]);
    expect(heapFlagsFor(['consume', 't'], [], '--max_semi_space_size=16 --max-old-space-size=900')).toEqual(
      [],
    );
  });
});

/** The command line a running process was started with (after the bin re-executed itself). */
async function commandLine(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((arg) => arg !== '');
}

describe.runIf(process.platform === 'linux')('the pulsar-ws bin', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('starts the broker without a heap cap', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pws-heap-'));
    const broker: BrokerProcess = await startBrokerProcess(['--data-dir', dataDir]);
    cleanups.push(async () => {
      broker.child.kill('SIGKILL');
      await broker.exited;
      await rm(dataDir, { recursive: true, force: true });
    });
    let args: string[] = [];
    for (let attempt = 0; attempt < 100 && !args.includes('--expose-gc'); attempt++) {
      args = await commandLine(broker.child.pid ?? 0);
      if (!args.includes('--expose-gc')) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(args).toContain('--expose-gc');
    expect(args.some((arg) => arg.includes('old-space-size'))).toBe(false);
  });

  it('re-executes a connector command with the flags, in the same process', async () => {
    const port = await deadPort();
    const child = spawn(
      process.execPath,
      [CLI_PATH, 'consume', 't', '--subscription', 's', '--url', `ws://127.0.0.1:${port}`],
      { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=300' } },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    cleanups.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    let args: string[] = [];
    // The first command line is the bin's own, until it replaces itself.
    for (let attempt = 0; attempt < 100 && !args.includes('--max-semi-space-size=4'); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      args = await commandLine(child.pid ?? 0);
    }
    expect(args).toContain('--max-semi-space-size=4');
    // NODE_OPTIONS set the old-space size: the bin leaves it to the user.
    expect(args.some((arg) => arg.startsWith('--max-old-space-size'))).toBe(false);
  });
});

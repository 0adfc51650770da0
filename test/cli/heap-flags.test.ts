/**
 * The heap flags each command runs with: connector commands get a capped heap (re-executed by the bin
 * with the flags), the broker and the sidecar none, and a flag the user gave Node is never overridden.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

/** BusyBox's `env`, as on Alpine images; the CI machine installs Debian's `busybox` package. */
const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((path) => existsSync(path));

describe.runIf(process.platform === 'linux' && busybox !== undefined)('the bin under BusyBox env', () => {
  it('has a #! line BusyBox env runs, and each command gets its flags through it', async () => {
    const firstLine = (await readFile(CLI_PATH, 'utf8')).split('\n')[0];
    // BusyBox's env has no -S: the line must name the interpreter alone.
    expect(firstLine).toBe('#!/usr/bin/env node');
    // What the kernel runs for that line, with BusyBox's env in place of GNU's.
    const bin = (args: string[]): ReturnType<typeof spawn> =>
      spawn(busybox ?? 'busybox', ['env', 'node', CLI_PATH, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
      });
    const version = bin(['--version']);
    let printed = '';
    version.stdout?.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    expect(await new Promise((resolve) => version.once('exit', resolve))).toBe(0);
    expect(printed.trim()).toMatch(/^\d+\.\d+\.\d+/);

    const port = await deadPort();
    for (const [args, expected] of [
      [
        ['consume', 't', '--subscription', 's', '--url', `ws://127.0.0.1:${port}`],
        '--max-old-space-size=256',
      ],
      [['broker', '--port', '0', '--data-dir', await mkdtemp(join(tmpdir(), 'pws-busybox-'))], '--expose-gc'],
    ] as const) {
      const child = bin([...args]);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let seen: string[] = [];
      for (let attempt = 0; attempt < 100 && !seen.includes(expected); attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        seen = await commandLine(child.pid ?? 0).catch(() => []);
      }
      child.kill('SIGKILL');
      await exited;
      expect(seen).toContain(expected);
      // Only connector commands get a heap cap.
      expect(seen.some((arg) => arg.startsWith('--max-old-space-size'))).toBe(args[0] !== 'broker');
    }
  });
});

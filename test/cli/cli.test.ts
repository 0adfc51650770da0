/** The `pulsar-ws` binary as an operator runs it (built CLI, child processes). */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../src/broker/storage/data-dir-lock.js';
import { CLI_PATH, startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';

const run = promisify(execFile);
let dataDir = '';
const running: BrokerProcess[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pws-cli-'));
});
afterEach(async () => {
  for (const broker of running.splice(0)) {
    broker.child.kill('SIGKILL');
    await broker.exited;
  }
  await rm(dataDir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_PATH, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe('pulsar-ws', () => {
  it('--help lists the broker command; broker --help lists its flags', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/pulsar-ws broker/);
    const broker = await cli(['broker', '--help']);
    for (const flag of [
      '--host',
      '--port',
      '--data-dir',
      '--fsync',
      '--allow-auto-topic-creation',
      '--default-retention-time-in-minutes',
      '--default-retention-size-in-mb',
      '--topic-idle-timeout-ms',
      '--max-open-topics',
      '--deduplication-producer-inactivity-timeout-minutes',
    ]) {
      expect(broker.stdout).toContain(flag);
    }
  });

  it('no command or an unknown flag exits 2 with a message', async () => {
    expect((await cli([])).code).toBe(2);
    const unknown = await cli(['broker', '--prot', '9']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown argument: prot/);
  });

  it('a bad port exits 2 naming the option and value', async () => {
    const result = await cli(['broker', '--port', 'eighty', '--data-dir', dataDir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('pulsar-ws: --port expects a number, got "eighty"\n');
    const negative = await cli(['broker', '--port', '-1', '--data-dir', dataDir]);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/`port`.*got -1 \(number\)/);
  });

  it('a numeric flag given a word or no value exits 2 quoting what was typed, whatever the command', async () => {
    const url = ['--url', 'ws://127.0.0.1:1'];
    const cases: [string[], string][] = [
      [
        ['consume', 't', '--subscription', 's', '--count', 'ten', ...url],
        '--count expects a number, got "ten"',
      ],
      [
        ['consume', 't', '--subscription', 's', '--idle-exit=5s', ...url],
        '--idle-exit expects a number, got "5s"',
      ],
      [['read', 't', '--connect-timeout', 'soon', ...url], '--connect-timeout expects a number, got "soon"'],
      [['consume', 't', '--subscription', 's', ...url, '--count'], '--count expects a number, got none'],
      [
        ['broker', '--max-open-topics', '--data-dir', dataDir],
        '--max-open-topics expects a number, got none',
      ],
      [
        ['token', 'create', '--secret-file', join(dataDir, 'k'), '--subject', 'a', '--expiry-seconds', '1h'],
        '--expiry-seconds expects a number, got "1h"',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect({ code: result.code, stderr: result.stderr }, args.join(' ')).toEqual({
        code: 2,
        stderr: `pulsar-ws: ${message}\n`,
      });
    }
  });

  it('a single 0 retention limit exits 2 with the rule', async () => {
    const result = await cli(['broker', '--default-retention-time-in-minutes', '60', '--data-dir', dataDir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /`defaultRetentionTimeInMinutes` \(60\) and `defaultRetentionSizeInMB` \(0\)/,
    );
  });

  it('prints one ready line with the URL, and SIGTERM stops it cleanly (exit 0, lock released)', async () => {
    const broker = await startBrokerProcess(['--data-dir', dataDir]);
    running.push(broker);
    expect(broker.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(join(dataDir, 'broker.lock'))).toBe(true);
    broker.child.kill('SIGTERM');
    expect(await broker.exited).toBe(0);
    // The lock file stays; the lock itself is free.
    const unlock = await lockDataDir(dataDir);
    await unlock();
    expect(broker.stderr()).toMatch(/broker stopped/);
  });

  it('a second broker on the same data directory is refused with a clear message', async () => {
    running.push(await startBrokerProcess(['--data-dir', dataDir]));
    const second = await cli(['broker', '--port', '0', '--data-dir', dataDir]);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/data directory .* is in use by another broker \(it holds the lock on /);
  });

  it('token create-secret-key and token create make a key and a JWT for a role', async () => {
    const key = join(dataDir, 'secret.key');
    expect((await cli(['token', 'create-secret-key', '--output', key])).code).toBe(0);
    const created = await cli(['token', 'create', '--secret-file', key, '--subject', 'app']);
    expect(created.code).toBe(0);
    const [, payload = ''] = created.stdout.trim().split('.');
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toEqual({ sub: 'app' });
    const again = await cli(['token', 'create-secret-key', '--output', key]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/EEXIST/);
  });

  it('the broker with --auth-token-secret-file refuses a missing key file with exit 2', async () => {
    const result = await cli([
      'broker',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--auth-token-secret-file',
      '/nonexistent/key',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no such file: /nonexistent/key');
  });

  it('a port in use exits 1 naming the port', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const result = await cli(['broker', '--port', String(port), '--data-dir', dataDir]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  });
});

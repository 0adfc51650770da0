/**
 * End-to-end encryption through the CLI: `keys create`, a client-side encrypted round trip
 * (`file-to-topic --encrypt-key`, `topic-to-file --decrypt-key`) that is byte-identical while a raw
 * consumer sees only ciphertext, server-side `--encryption-keys`, and usage errors naming the bad value.
 * Embedded broker, or real Pulsar (PULSAR_WS_URL with PULSAR_CRYPTO_KEYS_DIR).
 */
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/broker-process.js';
import { runNode, type ChildRun } from '../helpers/child-process.js';
import { cryptoKeysAvailable, SERVER_KEY, testCryptoKeys } from '../helpers/crypto-keys.js';
import { consumerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { SocketPool } from '../helpers/ws-client.js';

const keys = testCryptoKeys();
const target = useTarget({ cryptoKeysDir: keys.brokerDir });
const pool = new SocketPool();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await pool.closeAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  if (process.env.PULSAR_CRYPTO_KEYS_DIR !== keys.root) await rm(keys.root, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-cli-enc-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function cli(args: string[], withUrl = true): Promise<ChildRun> {
  return runNode([CLI_PATH, ...args, ...(withUrl ? ['--url', target.wsUrl, '--log-level', 'warn'] : [])]);
}

describe('pulsar-ws keys create', () => {
  it("writes an RSA-2048 pair with Pulsar's file names and refuses to overwrite it", async () => {
    const dir = await tempDir();
    const created = await cli(['keys', 'create', '--name', 'orders', '--dir', join(dir, 'k')], false);
    expect(created.code, created.stderr).toBe(0);
    expect((await readdir(join(dir, 'k'))).sort()).toEqual(['private-key.orders', 'public-key.orders']);
    expect(await readFile(join(dir, 'k', 'public-key.orders'), 'utf8')).toMatch(
      /^-----BEGIN PUBLIC KEY-----/,
    );
    expect((await stat(join(dir, 'k', 'private-key.orders'))).mode & 0o777).toBe(0o600);
    const again = await cli(['keys', 'create', '--name', 'orders', '--dir', join(dir, 'k')], false);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists already/);
  });
});

describe.skipIf(!cryptoKeysAvailable)('encryption flags', () => {
  it('client-side round trip: --encrypt-key then --decrypt-key is byte-identical; a raw consumer sees only ciphertext', async () => {
    const dir = await tempDir();
    const made = await cli(['keys', 'create', '--name', 'cli-key', '--dir', dir], false);
    expect(made.code, made.stderr).toBe(0);
    const input = join(dir, 'in.txt');
    const output = join(dir, 'out.txt');
    const lines = Array.from({ length: 500 }, (_, i) => `secret line ${i} ${'z'.repeat(i % 40)}`);
    await writeFile(input, `${lines.join('\n')}\n`);
    const topic = uniqueTopic('cli-enc');
    const published = await cli([
      'file-to-topic',
      '--file',
      input,
      '--topic',
      topic,
      '--encrypt-key',
      `cli-key=${join(dir, 'public-key.cli-key')}`,
      '--encrypt-compression',
      'ZLIB',
    ]);
    expect(published.code, published.stderr).toBe(0);

    const raw = await pool.open(
      consumerUrl(target, topic, 'raw', '?subscriptionInitialPosition=Earliest&cryptoFailureAction=CONSUME'),
    );
    const rawMessages = await raw.take<{ payload: string; encryptionContext?: { keys: object } }>(
      lines.length,
    );
    for (const message of rawMessages) {
      expect(Buffer.from(message.payload, 'base64').toString('latin1')).not.toContain('secret line');
      expect(message.encryptionContext?.keys).toHaveProperty('cli-key');
    }

    const written = await cli([
      'topic-to-file',
      '--topic',
      topic,
      '--subscription',
      's',
      '--file',
      output,
      '--count',
      String(lines.length),
      '--decrypt-key',
      `cli-key=${join(dir, 'private-key.cli-key')}`,
    ]);
    expect(written.code, written.stderr).toBe(0);
    expect((await readFile(output)).equals(await readFile(input))).toBe(true);
  }, 60_000);

  it('server-side --encryption-keys: the server encrypts with its key source', async () => {
    const topic = uniqueTopic('cli-server-enc');
    const published = await cli([
      'produce',
      topic,
      '-m',
      'one',
      '-m',
      'two',
      '--encryption-keys',
      SERVER_KEY,
    ]);
    expect(published.code, published.stderr).toBe(0);
    const consumer = await pool.open(
      consumerUrl(target, topic, 'sub', '?subscriptionInitialPosition=Earliest'),
    );
    const messages = await consumer.take<{ payload: string; encryptionContext?: { keys: object } }>(2);
    // The server holds the private key of SERVER_KEY, so it delivers plaintext, still with the context.
    expect(messages.map((m) => Buffer.from(m.payload, 'base64').toString())).toEqual(['one', 'two']);
    expect(messages[0]?.encryptionContext?.keys).toHaveProperty(SERVER_KEY);
  });

  it('usage errors name the offending value', async () => {
    const dir = await tempDir();
    const missing = await cli(['produce', 't', '-m', 'x', '--encrypt-key', `k=${join(dir, 'nope.pem')}`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.pem');
    const malformed = await cli(['produce', 't', '-m', 'x', '--encrypt-key', 'just-a-name']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('NAME=FILE.pem, got "just-a-name"');
    await writeFile(join(dir, 'bad.pem'), 'not a key');
    const bad = await cli([
      'consume',
      't',
      '--subscription',
      's',
      '--count',
      '1',
      '--decrypt-key',
      `k=${join(dir, 'bad.pem')}`,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('privateKeys.k');
    const both = await cli([
      'produce',
      't',
      '-m',
      'x',
      '--encryption-keys',
      'a',
      '--encrypt-key',
      `k=${join(dir, 'bad.pem')}`,
    ]);
    expect(both.code).toBe(2);
  });
});

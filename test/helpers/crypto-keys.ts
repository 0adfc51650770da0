/**
 * RSA keys for the encryption tests, laid out as the servers read them:
 * - `<root>`: what the server's key source holds (`--crypto-keys-dir` of the embedded broker, or the
 *   directory of the project's CryptoKeyReaderFactory on real Pulsar): both files of `ws-server` (the
 *   server can decrypt it) and only the public key of `ws-client` (the server can encrypt for it, never
 *   decrypt);
 * - `<root>/clients`: the private key of `ws-client`, which only clients hold (key sources read only
 *   the files directly in `<root>`).
 * Against real Pulsar the root comes from `PULSAR_CRYPTO_KEYS_DIR` (made by `.ci/run` before Pulsar
 * starts); for the embedded broker a fresh root is made when the test file loads.
 */
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { externalTarget } from './target.js';

export const SERVER_KEY = 'ws-server';
export const CLIENT_KEY = 'ws-client';

export interface TestCryptoKeys {
  readonly root: string;
  /** The server's key directory. */
  readonly brokerDir: string;
  /** Private keys only clients hold. */
  readonly clientsDir: string;
  readonly publicPem: (name: string) => string;
  readonly privatePem: (name: string) => string;
}

function writePair(dir: string, name: string): void {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  writeFileSync(join(dir, `public-key.${name}`), publicKey);
  writeFileSync(join(dir, `private-key.${name}`), privateKey, { mode: 0o600 });
}

/** Makes `<root>` and `<root>/clients` as described above. */
export function makeTestCryptoKeys(root: string): void {
  const brokerDir = root;
  const clientsDir = join(root, 'clients');
  mkdirSync(brokerDir, { recursive: true });
  mkdirSync(clientsDir, { recursive: true });
  writePair(brokerDir, SERVER_KEY);
  writePair(clientsDir, CLIENT_KEY);
  copyFileSync(join(clientsDir, `public-key.${CLIENT_KEY}`), join(brokerDir, `public-key.${CLIENT_KEY}`));
}

/** True when the suite can run: the embedded broker always; real Pulsar only with its key directory. */
export const cryptoKeysAvailable = !externalTarget || (process.env.PULSAR_CRYPTO_KEYS_DIR ?? '') !== '';

export function testCryptoKeys(): TestCryptoKeys {
  let root = process.env.PULSAR_CRYPTO_KEYS_DIR ?? '';
  if (!externalTarget || root === '') {
    root = mkdtempSync(join(tmpdir(), 'pws-keys-'));
    makeTestCryptoKeys(root);
  }
  const brokerDir = root;
  const clientsDir = join(root, 'clients');
  const find = (kind: 'public' | 'private', name: string): string => {
    const file = `${kind}-key.${name}`;
    try {
      return readFileSync(join(clientsDir, file), 'utf8');
    } catch {
      return readFileSync(join(brokerDir, file), 'utf8');
    }
  };
  return {
    root,
    brokerDir,
    clientsDir,
    publicPem: (name) => find('public', name),
    privatePem: (name) => find('private', name),
  };
}

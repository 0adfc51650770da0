/**
 * RSA key material as Pulsar uses it: PEM files named `public-key.<name>` / `private-key.<name>` (the
 * naming of Pulsar's own test key reader), SPKI public keys and PKCS#1 or PKCS#8 private keys. Only
 * RSA: the C++ and Python clients cannot use EC keys.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export class KeyFormatError extends Error {
  override readonly name = 'KeyFormatError';
}

export const publicKeyFileName = (name: string): string => `public-key.${name}`;
export const privateKeyFileName = (name: string): string => `private-key.${name}`;

function requireRsa(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new KeyFormatError(
      `${what} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; Pulsar's cross-client encryption needs RSA`,
    );
  }
  return key;
}

/** @throws KeyFormatError naming `what` (a file or key name) when the PEM is not an RSA public key. */
export function parsePublicKey(pem: string | Buffer, what: string): KeyObject {
  try {
    return requireRsa(createPublicKey(pem), what);
  } catch (error) {
    if (error instanceof KeyFormatError) throw error;
    throw new KeyFormatError(`${what} is not a PEM public key: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** @throws KeyFormatError naming `what` when the PEM is not an unencrypted RSA private key. */
export function parsePrivateKey(pem: string | Buffer, what: string): KeyObject {
  try {
    return requireRsa(createPrivateKey(pem), what);
  } catch (error) {
    if (error instanceof KeyFormatError) throw error;
    throw new KeyFormatError(`${what} is not a PEM private key: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** A new RSA-2048 pair as PEM: SPKI public, PKCS#8 private (what `openssl genrsa` writes on OpenSSL 3). */
export async function createRsaKeyPair(): Promise<{ publicPem: string; privatePem: string }> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicPem: publicKey, privatePem: privateKey };
}

/**
 * Writes `public-key.<name>` and `private-key.<name>` into `dir` (created if missing); the private key
 * is readable by its owner only. Refuses to overwrite an existing pair. Returns the two paths.
 */
export async function writeRsaKeyPair(
  dir: string,
  name: string,
): Promise<{ publicPath: string; privatePath: string }> {
  if (name === '' || name.includes('/') || name.includes('\\') || name.includes(',')) {
    throw new KeyFormatError(`key name "${name}" must be non-empty without "/", "\\" or ","`);
  }
  const { publicPem, privatePem } = await createRsaKeyPair();
  await mkdir(dir, { recursive: true });
  const publicPath = join(dir, publicKeyFileName(name));
  const privatePath = join(dir, privateKeyFileName(name));
  await writeFile(privatePath, privatePem, { mode: 0o600, flag: 'wx' });
  await writeFile(publicPath, publicPem, { mode: 0o644, flag: 'wx' });
  return { publicPath, privatePath };
}

/** Reads a PEM file, or undefined when it does not exist. */
export async function readKeyFile(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

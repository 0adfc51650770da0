/**
 * The broker's key source (`--crypto-keys-dir`): `public-key.<name>` and `private-key.<name>` PEM files,
 * as Pulsar's own test `CryptoKeyReader` reads them. Like a `CryptoKeyReader`, it is asked by name when a
 * key is needed, so keys added to the directory are picked up without a restart. A name whose private
 * key is absent is one the broker can encrypt for but not decrypt: consumers then get ciphertext
 * (`cryptoFailureAction=CONSUME`), which is how clients keep the keys to themselves.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  parsePrivateKey,
  parsePublicKey,
  privateKeyFileName,
  PrivateKeyRing,
  publicKeyFileName,
  readKeyFile,
} from '../../encryption/index.js';
import type { ResolvedBrokerOptions } from '../options.js';

/** How long a missing private key is remembered as missing before the directory is asked again. */
const MISSING_KEY_RECHECK_MILLIS = 10_000;

export class BrokerKeyStore {
  private readonly privateKeys = new Map<string, KeyObject>();
  private readonly missingSince = new Map<string, number>();
  /** One ring over every private key found so far, so its data-key cache serves all sessions. */
  readonly ring = new PrivateKeyRing(this.privateKeys);

  constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /** The public key for `name`, or undefined when there is none or it is not a usable RSA PEM. */
  async publicKey(name: string): Promise<KeyObject | undefined> {
    const pem = await readKeyFile(join(this.dir, publicKeyFileName(name)));
    if (pem === undefined) return undefined;
    try {
      return parsePublicKey(pem, publicKeyFileName(name));
    } catch (error) {
      // Pulsar answers an unparsable key like a missing one (producer creation fails); the operator
      // gets the reason here.
      this.logger.warn({ err: error, dir: this.dir, key: name }, 'unusable public key');
      return undefined;
    }
  }

  /** Loads the private keys of `names` that exist into `ring`; true when at least one is there. */
  async loadPrivateKeys(names: readonly string[]): Promise<boolean> {
    let any = false;
    for (const name of names) {
      if (this.privateKeys.has(name)) {
        any = true;
        continue;
      }
      const missing = this.missingSince.get(name);
      if (missing !== undefined && Date.now() - missing < MISSING_KEY_RECHECK_MILLIS) continue;
      const pem = await readKeyFile(join(this.dir, privateKeyFileName(name)));
      let key: KeyObject | undefined;
      try {
        key = pem === undefined ? undefined : parsePrivateKey(pem, privateKeyFileName(name));
      } catch (error) {
        // Treated as absent, as Pulsar treats a key reader that fails: the crypto failure action applies.
        this.logger.warn({ err: error, dir: this.dir, key: name }, 'unusable private key');
        key = undefined;
      }
      if (key === undefined) {
        this.missingSince.set(name, Date.now());
        continue;
      }
      this.missingSince.delete(name);
      this.privateKeys.set(name, key);
      any = true;
    }
    return any;
  }
}

const stores = new WeakMap<ResolvedBrokerOptions, BrokerKeyStore>();

/** The broker's key store, or undefined when it was started without `cryptoKeysDir`. */
export function brokerKeyStore(options: ResolvedBrokerOptions): BrokerKeyStore | undefined {
  if (options.cryptoKeysDir === undefined) return undefined;
  let store = stores.get(options);
  if (store === undefined) {
    store = new BrokerKeyStore(options.cryptoKeysDir, options.logger.child({ component: 'crypto-keys' }));
    stores.set(options, store);
  }
  return store;
}

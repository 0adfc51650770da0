/**
 * What a consumer or reader is sent for an encrypted message (Pulsar 4.0.7, ConsumerImpl): plaintext when
 * the broker holds a private key for one of its key names, else the ciphertext with
 * `cryptoFailureAction=CONSUME`, nothing with `FAIL` (the default: the message stays unacknowledged) and
 * an acknowledgement with `DISCARD`. Consumers always get `encryptionContext` for an encrypted message,
 * decrypted or not; readers never do.
 */
import type { CryptoFailureAction, EncryptionContext } from '../../protocol/index.js';
import { decryptMessage, encryptionContextOf, MessageDecryptError } from '../../encryption/index.js';
import type { StoredMessage } from '../storage/record-codec.js';
import type { BrokerKeyStore } from './key-store.js';

export type DeliveryOutcome =
  | { readonly kind: 'deliver'; readonly message: StoredMessage; readonly context?: EncryptionContext }
  | { readonly kind: 'fail' }
  | { readonly kind: 'discard' };

export class DeliveryCrypto {
  constructor(
    private readonly store: BrokerKeyStore | undefined,
    private readonly action: CryptoFailureAction,
    /** False for readers: Pulsar's reader frames never carry `encryptionContext`. */
    private readonly withContext: boolean,
  ) {}

  async outcome(message: StoredMessage): Promise<DeliveryOutcome> {
    const { encryption } = message;
    if (encryption === undefined) return { kind: 'deliver', message };
    const context = encryptionContextOf(encryption);
    const shown = this.withContext ? { context } : {};
    const plaintext = await this.decrypt(message, context);
    if (plaintext !== undefined)
      return { kind: 'deliver', message: { ...message, payload: plaintext }, ...shown };
    switch (this.action) {
      case 'CONSUME':
        return { kind: 'deliver', message, ...shown };
      case 'DISCARD':
        return { kind: 'discard' };
      case 'FAIL':
        return { kind: 'fail' };
    }
  }

  private async decrypt(message: StoredMessage, context: EncryptionContext): Promise<Buffer | undefined> {
    if (this.store === undefined) return undefined;
    if (!(await this.store.loadPrivateKeys(Object.keys(context.keys)))) return undefined;
    try {
      const { body, batch } = decryptMessage(this.store.ring, message.payload, context);
      // The embedded broker stores no batches (WebSocket producers never send one), so a batch here
      // cannot be split into frames with ids of their own: leave it to the crypto failure action.
      return batch === null ? body : undefined;
    } catch (error) {
      if (error instanceof MessageDecryptError) return undefined;
      throw error;
    }
  }
}

/** The crypto of one consumer (`withContext`) or reader session; `FAIL` unless the client chose another action. */
export function deliveryCrypto(
  store: BrokerKeyStore | undefined,
  action: CryptoFailureAction | undefined,
  withContext: boolean,
): DeliveryCrypto {
  return new DeliveryCrypto(store, action ?? 'FAIL', withContext);
}

/**
 * A consumer's options, and what one topic's consumer session is made of (its URL, its stream's
 * options, its decryptor), checked before anything is opened.
 */
import { consumerUrl, type ConsumerParamOptions } from '../client/endpoints.js';
import { InvalidArgumentError } from '../errors.js';
import type { TopicName } from '../protocol/index.js';
import type { ConsumerStreamOptions } from './consumer-stream.js';
import { resolveDecryptor, type DecryptMessagesOptions, type Decryptor } from './decrypt-messages.js';
import type { StreamLifecycleOptions } from './client-options.js';

export interface ConsumerOptions
  extends ConsumerParamOptions, Omit<ConsumerStreamOptions, 'topic'>, StreamLifecycleOptions {
  /**
   * Pulsar's WebSocket proxy consumes through an internal Java consumer that prefetches up to this
   * many messages from the broker, even in pull mode (docs/protocol.md §4.4). Those count as delivered and
   * unacknowledged on the broker, on top of the stream's `highWaterMark`: lower it (down to 1) when
   * the broker's count must track the stream closely. @default min(highWaterMark, 1000)
   */
  readonly receiverQueueSize?: number;
  /**
   * Decrypts end-to-end encrypted messages with these RSA private keys: asks the server for ciphertext
   * (`cryptoFailureAction=CONSUME`) and emits plaintext messages (batches split), as `decryptMessages`.
   */
  readonly decryption?: DecryptMessagesOptions;
  /**
   * With `{ topicsPattern }`: how often the pattern's namespace is listed again for new (and gone)
   * topics, in ms (Pulsar's `patternAutoDiscoveryPeriod`). @default 60000
   */
  readonly patternAutoDiscoveryPeriodMs?: number;
}

/** One topic's session: what is left of the consumer's options once the client took its own. */
export type TopicConsumerOptions = Omit<ConsumerOptions, 'signal' | 'patternAutoDiscoveryPeriodMs'>;

/**
 * What one topic's consumer session is made of: its URL, its stream's options and its decryptor.
 * @throws InvalidArgumentError for a bad option.
 */
export function consumerPlan(
  serviceUrl: string,
  name: TopicName,
  subscription: string,
  options: TopicConsumerOptions,
): { url: string; streamOptions: ConsumerStreamOptions; decryptor: Decryptor | undefined } {
  const { highWaterMark, ackMode, closeGraceMs, receiverQueueSize, decryption, ...params } = options;
  const decryptor = decryption === undefined ? undefined : resolveDecryptor(decryption);
  if (decryptor !== undefined && (params.cryptoFailureAction ?? 'CONSUME') !== 'CONSUME') {
    throw new InvalidArgumentError(
      `\`decryption\` needs cryptoFailureAction CONSUME (the server must hand over ciphertext), got ${params.cryptoFailureAction}`,
    );
  }
  const url = consumerUrl(serviceUrl, name, subscription, {
    ...params,
    ...(decryptor === undefined ? {} : { cryptoFailureAction: 'CONSUME' as const }),
    receiverQueueSize: receiverQueueSize ?? Math.min(highWaterMark ?? 100, 1000),
  });
  const streamOptions = {
    topic: name.fullName,
    ...(highWaterMark === undefined ? {} : { highWaterMark }),
    ...(ackMode === undefined ? {} : { ackMode }),
    ...(closeGraceMs === undefined ? {} : { closeGraceMs }),
  };
  return { url, streamOptions, decryptor };
}

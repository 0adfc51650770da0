/**
 * The option names each stream factory knows: anything else is a typo that would otherwise be
 * ignored silently, so it is refused with the list of known names.
 */
import { InvalidArgumentError } from '../errors.js';

const KNOWN_OPTIONS = {
  producer: [
    'producerName',
    'initialSequenceId',
    'hashingScheme',
    'sendTimeoutMillis',
    'batchingEnabled',
    'batchingMaxMessages',
    'maxPendingMessages',
    'batchingMaxPublishDelay',
    'messageRoutingMode',
    'compressionType',
    'encryptionKeys',
    'highWaterMark',
    'maxInFlight',
    'maxFrameBytes',
    'finishTimeoutMs',
    'effectivelyOnce',
    'partitionSequenceIds',
    'onAck',
    'signal',
    'encryption',
  ],
  consumer: [
    'subscriptionType',
    'subscriptionMode',
    'subscriptionInitialPosition',
    'ackTimeoutMillis',
    'consumerName',
    'priorityLevel',
    'negativeAckRedeliveryDelay',
    'maxRedeliverCount',
    'deadLetterTopic',
    'cryptoFailureAction',
    'receiverQueueSize',
    'highWaterMark',
    'ackMode',
    'closeGraceMs',
    'signal',
    'decryption',
    'patternAutoDiscoveryPeriodMs',
  ],
  reader: ['readerName', 'cryptoFailureAction', 'startMessageId', 'highWaterMark', 'stopAtEnd', 'signal'],
} as const;

/** @throws InvalidArgumentError naming the first unknown option of `options`. */
export function checkKnown(kind: keyof typeof KNOWN_OPTIONS, options: object): void {
  const known: readonly string[] = KNOWN_OPTIONS[kind];
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const hint =
      name === 'pullMode'
        ? ' (consumers always run in pull mode)'
        : name === 'messageId'
          ? ' (use `startMessageId`)'
          : '';
    throw new InvalidArgumentError(`unknown ${kind} option \`${name}\`${hint}; known: ${known.join(', ')}`);
  }
}

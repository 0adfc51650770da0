/** Options of the embedded broker, with defaults and validation. */
import type { Logger } from 'pino';
import { pino } from 'pino';
import { DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_TEXT_FRAME_SIZE } from '../protocol/index.js';

export interface EmbeddedBrokerOptions {
  /** Directory for topic logs and subscription cursors; created if missing. Required. */
  dataDir: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 8080 */
  port?: number;
  /**
   * `'always'`: a publish is acked only after its record is on disk (O_DSYNC writes; group commit: one per
   * batch of concurrent publishes). `'never'`: acked once written to the OS; survives a killed broker
   * process but not a power loss.
   * @default 'always'
   */
  fsync?: 'always' | 'never';
  /** Inbound text frames above this many bytes close the session with 1009 (`webSocketMaxTextFrameSize`). @default 1048576 */
  maxTextFrameSize?: number;
  /** Payloads above this many bytes get a `send-error:8` ack (`maxMessageSize`). @default 5242880 */
  maxMessageSize?: number;
  /** When false, producers and consumers of unknown topics get HTTP 404 (readers 500). @default true */
  allowAutoTopicCreation?: boolean;
  /**
   * Negotiate permessage-deflate when a client offers it, as Pulsar's Jetty does. Off by default: with
   * `ws` on both ends a negotiated deflate cuts small-message throughput about tenfold (measured with
   * `npm run bench:broker`), and the extension changes nothing a client can observe in the protocol.
   * @default false
   */
  perMessageDeflate?: boolean;
  /** A new ledger starts when the current one reaches this many bytes. @default 134217728 (128 MiB) */
  maxSegmentBytes?: number;
  /**
   * A new ledger also starts after this many entries, as Pulsar's `managedLedgerMaxEntriesPerLedger`:
   * retention deletes whole ledgers, so this bounds what a consumed topic keeps on disk.
   * @default 50000
   */
  maxEntriesPerSegment?: number;
  /**
   * Retention of consumed messages for namespaces without a policy (Pulsar's
   * `defaultRetentionTimeInMinutes`): -1 keeps them forever; 0 with `defaultRetentionSizeInMB` 0
   * deletes consumed ledgers at once. @default 0
   */
  defaultRetentionTimeInMinutes?: number;
  /** Pulsar's `defaultRetentionSizeInMB`: consumed data kept per topic; -1 = unlimited. @default 0 */
  defaultRetentionSizeInMB?: number;
  /** How often open topics are checked for expired retention (`retentionCheckIntervalInSeconds`). @default 120000 */
  retentionCheckIntervalMillis?: number;
  /**
   * A topic without producers, consumers or readers for this long closes its files and drops its
   * caches; the next use reopens it. 0 keeps topics open. @default 60000
   */
  topicIdleTimeoutMillis?: number;
  /**
   * Unused topics kept open at most (an LRU of topic handles: each holds a few file descriptors);
   * topics in use are never closed. @default 256
   */
  maxOpenTopics?: number;
  /**
   * Decoded messages kept in memory per topic for fast dispatch, in bytes; filled only while a
   * consumer or reader is connected to the topic. @default 16777216 (16 MiB)
   */
  cacheBytesPerTopic?: number;
  /**
   * Publishes a producer connection may have received and not yet stored; at this many the broker
   * stops reading its socket (TCP pushes back on the client) until half of them are stored
   * (Pulsar's `maxPendingPublishRequestsPerConnection`). @default 10000
   */
  maxPendingMessagesPerProducer?: number;
  /**
   * Bytes of publish frames a producer connection may have received and not yet stored; above it the
   * broker stops reading its socket until half of them are stored. With `maxPendingMessagesPerProducer`
   * this bounds what one producer costs, however fast it sends and whether or not it waits for acks.
   * @default 4194304 (4 MiB)
   */
  maxInboundBytesPerConnection?: number;
  /**
   * Bytes a connection's socket may hold that the client has not read yet. Deliveries to a consumer or
   * reader wait while more is buffered, and a producer that does not read its acks is not read from
   * either, so a slow or stalled client costs at most about this much memory and slows only itself.
   * @default 1048576 (1 MiB)
   */
  maxOutboundBytesPerConnection?: number;
  /** PEM certificate chain: with `tlsKeyFile`, the broker serves `wss://` and `https://` only. */
  tlsCertFile?: string;
  /** PEM private key of `tlsCertFile`. */
  tlsKeyFile?: string;
  /** PEM CA certificates: when set, clients must present a certificate signed by one of them. */
  tlsTrustCertsFile?: string;
  /**
   * A session with no traffic either way for this long is closed with 1001, as Pulsar's
   * `webSocketSessionIdleTimeoutMillis`; 0 disables it.
   * @default 300000
   */
  idleTimeoutMillis?: number;
  /** Server pings every this many ms (payload "PING"), as `webSocketPingDurationSeconds`; 0 = off. @default 0 */
  pingIntervalMillis?: number;
  /**
   * Enables token authentication and authorization: a file with the raw HMAC secret key (at least 32
   * bytes) that tokens are signed with, as Pulsar's `tokenSecretKey=file:///...`. Without it, no auth.
   */
  authTokenSecretFile?: string;
  /** Roles allowed everything, admin API included (Pulsar's `superUserRoles`). @default [] */
  superUserRoles?: string[];
  /** JSON grants `{"tenant/ns": {"role": ["produce", "consume"]}}` loaded at start-up. */
  authPermissionsFile?: string;
  /**
   * Message deduplication by producer name and sequence id for every namespace without a policy of its
   * own (Pulsar's `brokerDeduplicationEnabled`; namespaces: `POST .../deduplication`).
   * @default false
   */
  deduplication?: boolean;
  /**
   * Deduplication forgets a producer that has not been connected for this long, as Pulsar's
   * `brokerDeduplicationProducerInactivityTimeoutMinutes`: a resend after that is stored again. At
   * most 10 000 disconnected producers are remembered per topic (the least recently active go first).
   * @default 360
   */
  deduplicationProducerInactivityTimeoutMinutes?: number;
  /**
   * Key source for end-to-end encryption: a directory of `public-key.<name>` / `private-key.<name>` PEM
   * files (the role of Pulsar's `cryptoKeyReaderFactoryClassName`). Without it, producers asking for
   * server-side encryption (`encryptionKeys=<names>`) are refused with Pulsar's HTTP 500.
   */
  cryptoKeysDir?: string;
  /** Pulsar's `clusterName`: the prefix of generated producer names (`<clusterName>-0-<n>`). @default 'standalone' */
  clusterName?: string;
  /** pino logger; silent by default. */
  logger?: Logger;
}

type OptionalFileOptions =
  | 'authTokenSecretFile'
  | 'authPermissionsFile'
  | 'tlsCertFile'
  | 'tlsKeyFile'
  | 'tlsTrustCertsFile'
  | 'cryptoKeysDir';

export type ResolvedBrokerOptions = Readonly<
  Required<Omit<EmbeddedBrokerOptions, OptionalFileOptions>> &
    Pick<EmbeddedBrokerOptions, OptionalFileOptions>
>;

export class BrokerOptionError extends Error {
  override readonly name = 'BrokerOptionError';
}

function describe(value: unknown): string {
  return `${typeof value === 'string' ? JSON.stringify(value) : String(value)} (${typeof value})`;
}

function checkInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BrokerOptionError(
      `expected \`${name}\` to be an integer in [${min}, ${max}], got ${describe(value)}`,
    );
  }
}

export function resolveBrokerOptions(input: EmbeddedBrokerOptions): ResolvedBrokerOptions {
  const resolved: ResolvedBrokerOptions = {
    dataDir: input.dataDir,
    host: input.host ?? '127.0.0.1',
    port: input.port ?? 8080,
    fsync: input.fsync ?? 'always',
    maxTextFrameSize: input.maxTextFrameSize ?? DEFAULT_MAX_TEXT_FRAME_SIZE,
    maxMessageSize: input.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    allowAutoTopicCreation: input.allowAutoTopicCreation ?? true,
    perMessageDeflate: input.perMessageDeflate ?? false,
    maxSegmentBytes: input.maxSegmentBytes ?? 128 * 1024 * 1024,
    maxEntriesPerSegment: input.maxEntriesPerSegment ?? 50_000,
    defaultRetentionTimeInMinutes: input.defaultRetentionTimeInMinutes ?? 0,
    defaultRetentionSizeInMB: input.defaultRetentionSizeInMB ?? 0,
    retentionCheckIntervalMillis: input.retentionCheckIntervalMillis ?? 120_000,
    topicIdleTimeoutMillis: input.topicIdleTimeoutMillis ?? 60_000,
    maxOpenTopics: input.maxOpenTopics ?? 256,
    cacheBytesPerTopic: input.cacheBytesPerTopic ?? 16 * 1024 * 1024,
    maxPendingMessagesPerProducer: input.maxPendingMessagesPerProducer ?? 10_000,
    maxInboundBytesPerConnection: input.maxInboundBytesPerConnection ?? 4 * 1024 * 1024,
    maxOutboundBytesPerConnection: input.maxOutboundBytesPerConnection ?? 1024 * 1024,
    superUserRoles: input.superUserRoles ?? [],
    deduplication: input.deduplication ?? false,
    deduplicationProducerInactivityTimeoutMinutes: input.deduplicationProducerInactivityTimeoutMinutes ?? 360,
    clusterName: input.clusterName ?? 'standalone',
    idleTimeoutMillis: input.idleTimeoutMillis ?? 300_000,
    pingIntervalMillis: input.pingIntervalMillis ?? 0,
    logger: input.logger ?? pino({ enabled: false }),
    ...(input.authTokenSecretFile === undefined ? {} : { authTokenSecretFile: input.authTokenSecretFile }),
    ...(input.authPermissionsFile === undefined ? {} : { authPermissionsFile: input.authPermissionsFile }),
    ...(input.tlsCertFile === undefined ? {} : { tlsCertFile: input.tlsCertFile }),
    ...(input.tlsKeyFile === undefined ? {} : { tlsKeyFile: input.tlsKeyFile }),
    ...(input.tlsTrustCertsFile === undefined ? {} : { tlsTrustCertsFile: input.tlsTrustCertsFile }),
    ...(input.cryptoKeysDir === undefined ? {} : { cryptoKeysDir: input.cryptoKeysDir }),
  };
  if (typeof resolved.dataDir !== 'string' || resolved.dataDir.length === 0) {
    throw new BrokerOptionError(
      `expected \`dataDir\` to be a non-empty path, got ${describe(resolved.dataDir)}`,
    );
  }
  if (typeof resolved.host !== 'string' || resolved.host.length === 0) {
    throw new BrokerOptionError(`expected \`host\` to be a non-empty string, got ${describe(resolved.host)}`);
  }
  checkInteger('port', resolved.port, 0, 65535);
  if (resolved.fsync !== 'always' && resolved.fsync !== 'never') {
    throw new BrokerOptionError(
      `expected \`fsync\` to be 'always' or 'never', got ${describe(resolved.fsync)}`,
    );
  }
  checkInteger('maxTextFrameSize', resolved.maxTextFrameSize, 1);
  checkInteger('maxMessageSize', resolved.maxMessageSize, 1);
  checkInteger('maxSegmentBytes', resolved.maxSegmentBytes, 1);
  checkInteger('maxEntriesPerSegment', resolved.maxEntriesPerSegment, 1);
  checkInteger('defaultRetentionTimeInMinutes', resolved.defaultRetentionTimeInMinutes, -1);
  checkInteger('defaultRetentionSizeInMB', resolved.defaultRetentionSizeInMB, -1);
  if ((resolved.defaultRetentionTimeInMinutes === 0) !== (resolved.defaultRetentionSizeInMB === 0)) {
    throw new BrokerOptionError(
      `\`defaultRetentionTimeInMinutes\` (${resolved.defaultRetentionTimeInMinutes}) and \`defaultRetentionSizeInMB\` (${resolved.defaultRetentionSizeInMB}) are 0 together or not at all: use -1 to ignore one limit, 0 for both to disable retention`,
    );
  }
  checkInteger('retentionCheckIntervalMillis', resolved.retentionCheckIntervalMillis, 0);
  checkInteger('topicIdleTimeoutMillis', resolved.topicIdleTimeoutMillis, 0);
  checkInteger('maxOpenTopics', resolved.maxOpenTopics, 1);
  checkInteger('cacheBytesPerTopic', resolved.cacheBytesPerTopic, 0);
  checkInteger('maxPendingMessagesPerProducer', resolved.maxPendingMessagesPerProducer, 1);
  checkInteger('maxInboundBytesPerConnection', resolved.maxInboundBytesPerConnection, 1);
  checkInteger('maxOutboundBytesPerConnection', resolved.maxOutboundBytesPerConnection, 1);
  checkInteger('idleTimeoutMillis', resolved.idleTimeoutMillis, 0);
  checkInteger(
    'deduplicationProducerInactivityTimeoutMinutes',
    resolved.deduplicationProducerInactivityTimeoutMinutes,
    1,
  );
  if ((resolved.tlsCertFile === undefined) !== (resolved.tlsKeyFile === undefined)) {
    throw new BrokerOptionError('`tlsCertFile` and `tlsKeyFile` go together: give both or neither');
  }
  if (resolved.tlsTrustCertsFile !== undefined && resolved.tlsCertFile === undefined) {
    throw new BrokerOptionError('`tlsTrustCertsFile` needs `tlsCertFile` and `tlsKeyFile`');
  }
  checkInteger('pingIntervalMillis', resolved.pingIntervalMillis, 0);
  if (
    !Array.isArray(resolved.superUserRoles) ||
    resolved.superUserRoles.some((role) => typeof role !== 'string')
  ) {
    throw new BrokerOptionError(
      `expected \`superUserRoles\` to be an array of strings, got ${describe(resolved.superUserRoles)}`,
    );
  }
  if (resolved.authTokenSecretFile === undefined && resolved.authPermissionsFile !== undefined) {
    throw new BrokerOptionError(
      '`authPermissionsFile` needs `authTokenSecretFile`: without authentication there is no role to grant to',
    );
  }
  return resolved;
}

/** `pulsar-ws broker`: runs the embedded broker until SIGINT/SIGTERM. */
import { resolve } from 'node:path';
import type { LevelWithSilent } from 'pino';
import type { CommandModule } from 'yargs';
import {
  AuthenticationError,
  BrokerOptionError,
  DataDirLockedError,
  EmbeddedBroker,
  PermissionFileError,
} from '../../broker/index.js';
import { configFileNotes, parseBrokerConfigFile } from '../broker-config.js';
import { CliError } from '../cli-error.js';
import { createCliLogger, LOG_LEVELS } from '../logger.js';

const DEFAULT_LOG_LEVEL: LevelWithSilent = 'info';

interface BrokerArgs {
  host: string;
  port: number;
  'data-dir': string;
  fsync: 'always' | 'never';
  'max-text-frame-size': number;
  'max-message-size': number;
  'allow-auto-topic-creation': boolean;
  'per-message-deflate': boolean;
  'idle-timeout-ms': number;
  deduplication: boolean;
  'deduplication-producer-inactivity-timeout-minutes': number;
  'default-retention-time-in-minutes': number;
  'default-retention-size-in-mb': number;
  'retention-check-interval-ms': number;
  'topic-idle-timeout-ms': number;
  'max-open-topics': number;
  'max-outbound-bytes-per-connection': number;
  'max-inbound-bytes-per-connection': number;
  'max-pending-messages-per-producer': number;
  'tls-cert-file': string | undefined;
  'tls-key-file': string | undefined;
  'tls-trust-certs-file': string | undefined;
  'ping-interval-seconds': number;
  'auth-token-secret-file': string | undefined;
  'auth-superuser-roles': string[];
  'auth-permissions-file': string | undefined;
  'crypto-keys-dir': string | undefined;
  'cluster-name': string;
  'log-level': LevelWithSilent;
}

export const brokerCommand: CommandModule<object, BrokerArgs> = {
  command: 'broker',
  describe: 'Run the embedded Pulsar WebSocket broker (data on disk, no Java needed)',
  builder: (yargs) =>
    yargs
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
      .option('port', { type: 'number', default: 8080, describe: 'Port to listen on (0 = any free port)' })
      .option('data-dir', {
        type: 'string',
        default: 'pulsar-ws-data',
        describe: 'Directory for topic logs and subscription cursors (relative to the working directory)',
      })
      .option('fsync', {
        choices: ['always', 'never'] as const,
        default: 'always' as const,
        describe:
          'always: ack a publish once it is on disk (synchronous writes, group commit); never: once written to the OS',
      })
      .option('max-text-frame-size', {
        type: 'number',
        default: 1024 * 1024,
        describe: 'Inbound frames above this many bytes close the session with 1009',
      })
      .option('max-message-size', {
        type: 'number',
        default: 5 * 1024 * 1024,
        describe: 'Payloads above this many bytes are refused with send-error:8',
      })
      .option('allow-auto-topic-creation', {
        type: 'boolean',
        default: true,
        describe: 'Create topics on first use; --no-allow-auto-topic-creation makes unknown topics 404',
      })
      .option('per-message-deflate', {
        type: 'boolean',
        default: false,
        describe: 'Negotiate permessage-deflate when offered, as Pulsar does (costs throughput)',
      })
      .option('deduplication', {
        type: 'boolean',
        default: false,
        describe: 'Deduplicate by producer name and sequence id (brokerDeduplicationEnabled)',
      })
      .option('deduplication-producer-inactivity-timeout-minutes', {
        type: 'number',
        default: 360,
        describe:
          'Forget the deduplication state of a producer disconnected this long, as brokerDeduplicationProducerInactivityTimeoutMinutes',
      })
      .option('default-retention-time-in-minutes', {
        type: 'number',
        default: 0,
        describe:
          'Keep consumed messages this long in namespaces without a retention policy (-1 = forever; 0 with size 0 = delete once consumed), as defaultRetentionTimeInMinutes',
      })
      .option('default-retention-size-in-mb', {
        type: 'number',
        default: 0,
        describe:
          'Keep up to this much consumed data per topic (-1 = unlimited), as defaultRetentionSizeInMB',
      })
      .option('retention-check-interval-ms', {
        type: 'number',
        default: 120_000,
        describe: 'How often open topics delete what retention lets go, as retentionCheckIntervalInSeconds',
      })
      .option('topic-idle-timeout-ms', {
        type: 'number',
        default: 60_000,
        describe:
          'Close the files and drop the caches of a topic unused this long (0 = never); it reopens on demand',
      })
      .option('max-open-topics', {
        type: 'number',
        default: 256,
        describe: 'Keep at most this many unused topics open (least recently used close first)',
      })
      .option('max-outbound-bytes-per-connection', {
        type: 'number',
        default: 1024 * 1024,
        describe:
          'Bytes a connection may hold that its client has not read; deliveries (and reading a producer) wait above it',
      })
      .option('max-inbound-bytes-per-connection', {
        type: 'number',
        default: 4 * 1024 * 1024,
        describe:
          'Bytes of publishes a producer connection may have waiting for storage before it is not read',
      })
      .option('max-pending-messages-per-producer', {
        type: 'number',
        default: 10_000,
        describe:
          'Publishes a producer connection may have waiting for storage before it is not read (maxPendingPublishRequestsPerConnection)',
      })
      .option('tls-cert-file', {
        type: 'string',
        describe: 'PEM certificate: serve wss:// (with --tls-key-file)',
      })
      .option('tls-key-file', { type: 'string', describe: 'PEM private key of --tls-cert-file' })
      .option('tls-trust-certs-file', {
        type: 'string',
        describe: 'PEM CA certificates: require client certificates signed by them',
      })
      .option('idle-timeout-ms', {
        type: 'number',
        default: 300_000,
        describe: 'Close sessions idle this long with 1001 (0 = never), as webSocketSessionIdleTimeoutMillis',
      })
      .option('ping-interval-seconds', {
        type: 'number',
        default: 0,
        describe: 'Ping every session this often (0 = off), as webSocketPingDurationSeconds',
      })
      .option('auth-token-secret-file', {
        type: 'string',
        describe:
          'Enable JWT auth: file with the raw HMAC secret key (>= 32 bytes; see `pulsar-ws token create-secret-key`)',
      })
      .option('auth-superuser-roles', {
        type: 'string',
        array: true,
        default: [] as string[],
        describe: 'Roles allowed everything, admin API included (with --auth-token-secret-file)',
      })
      .option('auth-permissions-file', {
        type: 'string',
        describe:
          'JSON grants {"tenant/ns": {"role": ["produce","consume"]}} (with --auth-token-secret-file)',
      })
      .option('log-level', {
        choices: LOG_LEVELS,
        default: DEFAULT_LOG_LEVEL,
        describe: 'Log level (logs go to stderr)',
      })
      .option('crypto-keys-dir', {
        type: 'string',
        describe:
          'End-to-end encryption keys: public-key.NAME / private-key.NAME PEM files (Pulsar cryptoKeyReaderFactoryClassName)',
      })
      .option('cluster-name', {
        type: 'string',
        default: 'standalone',
        describe: "Pulsar's clusterName (prefix of generated producer names)",
      })
      .config(
        'config',
        'A Pulsar websocket.conf / broker.conf / standalone.conf to read (its keys that apply here); flags override it',
        parseBrokerConfigFile,
      ),
  handler: async (args) => {
    const logger = createCliLogger(args['log-level']);
    const notes = configFileNotes();
    if (notes !== undefined) {
      if (notes.ignored.length > 0) {
        logger.warn(
          { file: notes.file, keys: notes.ignored },
          'config keys the embedded broker does not use',
        );
      }
      for (const warning of notes.warnings) logger.warn({ file: notes.file }, warning);
    }
    const dataDir = resolve(args['data-dir']);
    let broker: EmbeddedBroker;
    try {
      broker = await EmbeddedBroker.start({
        host: args.host,
        port: args.port,
        dataDir,
        fsync: args.fsync,
        maxTextFrameSize: args['max-text-frame-size'],
        maxMessageSize: args['max-message-size'],
        allowAutoTopicCreation: args['allow-auto-topic-creation'],
        perMessageDeflate: args['per-message-deflate'],
        superUserRoles: args['auth-superuser-roles'],
        idleTimeoutMillis: args['idle-timeout-ms'],
        deduplication: args.deduplication,
        deduplicationProducerInactivityTimeoutMinutes:
          args['deduplication-producer-inactivity-timeout-minutes'],
        defaultRetentionTimeInMinutes: args['default-retention-time-in-minutes'],
        defaultRetentionSizeInMB: args['default-retention-size-in-mb'],
        retentionCheckIntervalMillis: args['retention-check-interval-ms'],
        topicIdleTimeoutMillis: args['topic-idle-timeout-ms'],
        maxOpenTopics: args['max-open-topics'],
        maxOutboundBytesPerConnection: args['max-outbound-bytes-per-connection'],
        maxInboundBytesPerConnection: args['max-inbound-bytes-per-connection'],
        maxPendingMessagesPerProducer: args['max-pending-messages-per-producer'],
        ...optionalPath('tlsCertFile', args['tls-cert-file']),
        ...optionalPath('tlsKeyFile', args['tls-key-file']),
        ...optionalPath('tlsTrustCertsFile', args['tls-trust-certs-file']),
        pingIntervalMillis: args['ping-interval-seconds'] * 1000,
        ...optionalPath('authTokenSecretFile', args['auth-token-secret-file']),
        ...optionalPath('authPermissionsFile', args['auth-permissions-file']),
        ...optionalPath('cryptoKeysDir', args['crypto-keys-dir']),
        clusterName: args['cluster-name'],
        logger,
      });
    } catch (error) {
      throw toCliError(error, args);
    }
    // Handlers go in before the ready line: a supervisor may signal as soon as it reads it.
    const stopRequested = new Promise<void>((resolveStop) => {
      const onSignal = (signal: NodeJS.Signals): void => {
        logger.info({ signal }, 'shutting down; send the signal again to exit at once');
        process.once(signal, () => process.exit(130));
        resolveStop();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    });
    process.stdout.write(`pulsar-ws broker ready at ${broker.url} (data in ${dataDir})\n`);
    await stopRequested;
    await broker.stop();
  },
};

function optionalPath<K extends string>(key: K, path: string | undefined): Partial<Record<K, string>> {
  return path === undefined ? {} : ({ [key]: resolve(path) } as Partial<Record<K, string>>);
}

function toCliError(error: unknown, args: BrokerArgs): CliError {
  const err = error as NodeJS.ErrnoException;
  if (
    error instanceof BrokerOptionError ||
    error instanceof DataDirLockedError ||
    error instanceof AuthenticationError ||
    error instanceof PermissionFileError
  ) {
    return new CliError(err.message, 2, { cause: error });
  }
  if (err.code === 'EADDRINUSE')
    return new CliError(`port ${args.port} on ${args.host} is already in use`, 1, { cause: error });
  if (err.code === 'ENOENT' && err.path !== undefined) {
    return new CliError(`no such file: ${err.path}`, 2, { cause: error });
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return new CliError(`permission denied: ${err.message}`, 1, { cause: error });
  }
  return new CliError(`broker failed to start: ${err.message}`, 1, { cause: error });
}

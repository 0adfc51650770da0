/**
 * `pulsar-ws broker --config FILE`: reads a Pulsar `websocket.conf`, `broker.conf` or `standalone.conf`
 * (Java properties syntax) and maps the keys that mean something for the embedded broker to its flags.
 * yargs applies the result with flags taking precedence over the file. Keys the broker cannot honour
 * are collected and reported once at start-up (see `configFileNotes`), never fatal.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getProperties } from 'properties-file';
import { CliError } from './cli-error.js';

/** What the file asked for that the broker does differently or not at all, for the start-up log. */
export interface ConfigFileNotes {
  readonly file: string;
  /** Keys with no meaning for the embedded broker (listed once, in one warning). */
  readonly ignored: string[];
  /** Specific explanations (cryptoKeyReaderFactoryClassName, partial TLS or auth setups). */
  readonly warnings: string[];
}

let notes: ConfigFileNotes | undefined;

/** The notes of the config file read by this process, if any. */
export function configFileNotes(): ConfigFileNotes | undefined {
  return notes;
}

const TOKEN_PROVIDER = 'org.apache.pulsar.broker.authentication.AuthenticationProviderToken';

function bool(value: string | undefined): boolean | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return value.trim().toLowerCase() === 'true';
}

function integer(key: string, value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const parsed = Number(value.trim());
  if (!Number.isSafeInteger(parsed))
    throw new CliError(`--config: ${key} must be an integer, got "${value}"`, 2);
  return parsed;
}

function text(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/**
 * `tokenSecretKey` as Pulsar reads it: `file:///path` or `data:;base64,...` (a raw key); the latter is
 * written to a private temporary file, since the broker reads its secret from a file.
 */
function tokenSecretFile(value: string): string {
  if (value.startsWith('file://')) return value.slice('file://'.length);
  if (value.startsWith('data:')) {
    const comma = value.indexOf(',');
    if (comma < 0) throw new CliError('--config: tokenSecretKey data: URI has no ","', 2);
    const header = value.slice(0, comma);
    const body = value.slice(comma + 1);
    const secret = header.endsWith(';base64')
      ? Buffer.from(body, 'base64')
      : Buffer.from(decodeURIComponent(body));
    const dir = mkdtempSync(join(tmpdir(), 'pulsar-ws-secret-'));
    const path = join(dir, 'token-secret.key');
    writeFileSync(path, secret, { mode: 0o600 });
    // The broker reads the file at start-up; the secret does not outlive the process.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return path;
  }
  throw new CliError(`--config: tokenSecretKey must be file:///path or data:;base64,..., got "${value}"`, 2);
}

/** Keys read below; anything else in the file is reported as ignored. */
const HONOURED = new Set([
  'webServicePort',
  'webServicePortTls',
  'bindAddress',
  'tlsEnabled',
  'tlsCertificateFilePath',
  'tlsKeyFilePath',
  'tlsTrustCertsFilePath',
  'tlsRequireTrustedClientCertOnConnect',
  'authenticationEnabled',
  'authenticationProviders',
  'tokenSecretKey',
  'authorizationEnabled',
  'superUserRoles',
  'webSocketMaxTextFrameSize',
  'webSocketSessionIdleTimeoutMillis',
  'webSocketPingDurationSeconds',
  'maxMessageSize',
  'brokerDeduplicationEnabled',
  'brokerDeduplicationProducerInactivityTimeoutMinutes',
  'allowAutoTopicCreation',
  'clusterName',
  'cryptoKeysDir',
  'cryptoKeyReaderFactoryClassName',
  'maxPendingPublishRequestsPerConnection',
  'maxOutboundBytesPerConnection',
  'maxInboundBytesPerConnection',
]);

/** Maps Pulsar's keys to broker flags (yargs `config` parser). @throws CliError for an unreadable file or bad value. */
export function parseBrokerConfigFile(file: string): Record<string, unknown> {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --config ${file}: ${(error as Error).message}`, 2, { cause: error });
  }
  const props = getProperties(content);
  const get = (key: string): string | undefined => props[key];
  const warnings: string[] = [];
  const flags: Record<string, unknown> = {};
  const set = (flag: string, value: unknown): void => {
    if (value !== undefined) flags[flag] = value;
  };

  const cert = text(get('tlsCertificateFilePath'));
  const key = text(get('tlsKeyFilePath'));
  const tlsPort = integer('webServicePortTls', get('webServicePortTls'));
  // Pulsar serves TLS when a TLS port and a certificate are configured (tlsEnabled is its older switch).
  const tls =
    cert !== undefined && key !== undefined && (tlsPort !== undefined || bool(get('tlsEnabled')) === true);
  if (tls) {
    set('tls-cert-file', cert);
    set('tls-key-file', key);
    set('port', tlsPort ?? integer('webServicePort', get('webServicePort')));
    if (bool(get('tlsRequireTrustedClientCertOnConnect')) === true) {
      set('tls-trust-certs-file', text(get('tlsTrustCertsFilePath')));
    }
    if (integer('webServicePort', get('webServicePort')) !== undefined && tlsPort !== undefined) {
      warnings.push(
        `the embedded broker serves one port: wss:// on webServicePortTls=${tlsPort}, not also ws:// on webServicePort`,
      );
    }
  } else {
    if (bool(get('tlsEnabled')) === true || tlsPort !== undefined) {
      warnings.push('TLS is not enabled: it needs both tlsCertificateFilePath and tlsKeyFilePath');
    }
    set('port', integer('webServicePort', get('webServicePort')));
  }
  set('host', text(get('bindAddress')));

  if (bool(get('authenticationEnabled')) === true) {
    const providers = (text(get('authenticationProviders')) ?? '').split(',').map((p) => p.trim());
    const secret = text(get('tokenSecretKey'));
    if (!providers.includes(TOKEN_PROVIDER)) {
      throw new CliError(
        `--config: authenticationEnabled=true needs authenticationProviders=${TOKEN_PROVIDER} (the only provider the embedded broker has)`,
        2,
      );
    }
    if (secret === undefined) {
      throw new CliError(
        '--config: token authentication needs tokenSecretKey (file:///path or data:;base64,...)',
        2,
      );
    }
    set('auth-token-secret-file', tokenSecretFile(secret));
    if (bool(get('authorizationEnabled')) === false) {
      warnings.push(
        'authorizationEnabled=false: the embedded broker always authorizes when authentication is on',
      );
    }
  }
  const superUsers = text(get('superUserRoles'));
  if (superUsers !== undefined) {
    set(
      'auth-superuser-roles',
      superUsers
        .split(',')
        .map((role) => role.trim())
        .filter((role) => role !== ''),
    );
  }
  set('max-text-frame-size', integer('webSocketMaxTextFrameSize', get('webSocketMaxTextFrameSize')));
  set(
    'idle-timeout-ms',
    integer('webSocketSessionIdleTimeoutMillis', get('webSocketSessionIdleTimeoutMillis')),
  );
  set('ping-interval-seconds', integer('webSocketPingDurationSeconds', get('webSocketPingDurationSeconds')));
  set('max-message-size', integer('maxMessageSize', get('maxMessageSize')));
  set('deduplication', bool(get('brokerDeduplicationEnabled')));
  set(
    'deduplication-producer-inactivity-timeout-minutes',
    integer(
      'brokerDeduplicationProducerInactivityTimeoutMinutes',
      get('brokerDeduplicationProducerInactivityTimeoutMinutes'),
    ),
  );
  set('allow-auto-topic-creation', bool(get('allowAutoTopicCreation')));
  set('cluster-name', text(get('clusterName')));
  set('crypto-keys-dir', text(get('cryptoKeysDir')));
  set(
    'max-pending-messages-per-producer',
    integer('maxPendingPublishRequestsPerConnection', get('maxPendingPublishRequestsPerConnection')),
  );
  // The embedded broker's own keys (Pulsar's WebSocket proxy has no such bounds).
  set(
    'max-outbound-bytes-per-connection',
    integer('maxOutboundBytesPerConnection', get('maxOutboundBytesPerConnection')),
  );
  set(
    'max-inbound-bytes-per-connection',
    integer('maxInboundBytesPerConnection', get('maxInboundBytesPerConnection')),
  );
  const factory = text(get('cryptoKeyReaderFactoryClassName'));
  if (factory !== undefined) {
    warnings.push(
      `cryptoKeyReaderFactoryClassName=${factory} names a Java class, which the embedded broker cannot load: ` +
        'give it the key files instead, with --crypto-keys-dir DIR or cryptoKeysDir=DIR in this file ' +
        '(public-key.<name> / private-key.<name> PEM files)',
    );
  }
  notes = {
    file,
    ignored: Object.keys(props).filter((name) => !HONOURED.has(name)),
    warnings,
  };
  return flags;
}

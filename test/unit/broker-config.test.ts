/** `broker --config`: how Pulsar's config keys map to the embedded broker's flags. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFileNotes, parseBrokerConfigFile } from '../../src/cli/broker-config.js';
import { CliError } from '../../src/cli/cli-error.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-conf-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function parse(lines: string[]): Promise<Record<string, unknown>> {
  const file = join(dir, `c-${Math.random().toString(36).slice(2)}.conf`);
  await writeFile(file, `${lines.join('\n')}\n`);
  return parseBrokerConfigFile(file);
}

describe('Pulsar config keys → broker flags', () => {
  it('maps the plain keys, in Java properties syntax', async () => {
    expect(
      await parse([
        '# comment',
        'webServicePort = 9090',
        'bindAddress: 0.0.0.0',
        'webSocketMaxTextFrameSize=2048',
        'webSocketSessionIdleTimeoutMillis=1000',
        'webSocketPingDurationSeconds=5',
        'maxMessageSize=4096',
        'brokerDeduplicationEnabled=true',
        'allowAutoTopicCreation=false',
        'clusterName=c1',
        'superUserRoles=admin, ops',
        'cryptoKeysDir=/keys',
      ]),
    ).toEqual({
      port: 9090,
      host: '0.0.0.0',
      'max-text-frame-size': 2048,
      'idle-timeout-ms': 1000,
      'ping-interval-seconds': 5,
      'max-message-size': 4096,
      deduplication: true,
      'allow-auto-topic-creation': false,
      'cluster-name': 'c1',
      'auth-superuser-roles': ['admin', 'ops'],
      'crypto-keys-dir': '/keys',
    });
    expect(configFileNotes()?.ignored).toEqual([]);
  });

  it('maps the per-connection bounds', async () => {
    expect(
      await parse([
        'maxPendingPublishRequestsPerConnection=500',
        'maxOutboundBytesPerConnection=65536',
        'maxInboundBytesPerConnection=131072',
      ]),
    ).toEqual({
      'max-pending-messages-per-producer': 500,
      'max-outbound-bytes-per-connection': 65536,
      'max-inbound-bytes-per-connection': 131072,
    });
    await expect(parse(['maxOutboundBytesPerConnection=lots'])).rejects.toThrow(
      'maxOutboundBytesPerConnection must be an integer, got "lots"',
    );
  });

  it('maps the deduplication producer inactivity timeout', async () => {
    expect(await parse(['brokerDeduplicationProducerInactivityTimeoutMinutes=30'])).toEqual({
      'deduplication-producer-inactivity-timeout-minutes': 30,
    });
    expect(configFileNotes()?.ignored).toEqual([]);
  });

  it('serves TLS on webServicePortTls; client certificates only with tlsRequireTrustedClientCertOnConnect', async () => {
    const tls = [
      'webServicePort=8080',
      'webServicePortTls=8443',
      'tlsCertificateFilePath=/c.pem',
      'tlsKeyFilePath=/k.pem',
      'tlsTrustCertsFilePath=/ca.pem',
    ];
    expect(await parse(tls)).toEqual({ port: 8443, 'tls-cert-file': '/c.pem', 'tls-key-file': '/k.pem' });
    expect(configFileNotes()?.warnings.join()).toMatch(/one port/);
    expect(await parse([...tls, 'tlsRequireTrustedClientCertOnConnect=true'])).toMatchObject({
      'tls-trust-certs-file': '/ca.pem',
    });
    expect(await parse(['tlsEnabled=true', 'webServicePort=8080'])).toEqual({ port: 8080 });
    expect(configFileNotes()?.warnings.join()).toMatch(
      /needs both tlsCertificateFilePath and tlsKeyFilePath/,
    );
  });

  it('token auth: file:// and data: secrets; other providers and a missing secret are usage errors', async () => {
    const auth = [
      'authenticationEnabled=true',
      'authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken',
    ];
    expect(await parse([...auth, 'tokenSecretKey=file:///secret.key'])).toEqual({
      'auth-token-secret-file': '/secret.key',
    });
    const fromData = await parse([
      ...auth,
      `tokenSecretKey=data:;base64,${Buffer.from('s3cret').toString('base64')}`,
    ]);
    expect(await readFile(fromData['auth-token-secret-file'] as string, 'utf8')).toBe('s3cret');
    await expect(parse(auth)).rejects.toThrow(/tokenSecretKey/);
    await expect(
      parse([
        'authenticationEnabled=true',
        'authenticationProviders=org.example.Tls',
        'tokenSecretKey=file:///x',
      ]),
    ).rejects.toThrow(CliError);
    await expect(parse(['webServicePort=eighty'])).rejects.toThrow(
      /webServicePort must be an integer, got "eighty"/,
    );
  });

  it('lists unknown keys and explains cryptoKeyReaderFactoryClassName', async () => {
    await parse([
      'zookeeperServers=zk:2181',
      'brokerServicePort=6650',
      'cryptoKeyReaderFactoryClassName=a.B',
    ]);
    expect(configFileNotes()?.ignored).toEqual(['zookeeperServers', 'brokerServicePort']);
    expect(configFileNotes()?.warnings.join()).toMatch(/a\.B names a Java class.*--crypto-keys-dir/);
  });

  it('an unreadable file is a usage error naming it', () => {
    expect(() => parseBrokerConfigFile(join(dir, 'missing.conf'))).toThrow(
      /cannot read --config .*missing\.conf/,
    );
  });
});

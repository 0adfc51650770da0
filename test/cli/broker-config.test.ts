/**
 * `pulsar-ws broker --config FILE`: the seed page's websocket.conf keys (TLS on) plus token
 * authentication, read from a Pulsar-style properties file, serve the seed examples (Python and Node,
 * switched to wss:// with a token in the URL); flags override the file; keys the broker does not use
 * are listed once; cryptoKeyReaderFactoryClassName points at --crypto-keys-dir. Embedded broker only.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/broker/index.js';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { TestSocket } from '../helpers/ws-client.js';

const SEED_DIR = fileURLToPath(new URL('../../examples/seed/', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
let dir = '';
let broker: BrokerProcess | undefined;
let token = '';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-broker-config-'));
  openssl(
    'req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca'.split(' '),
  );
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=server'.split(' '));
  openssl(
    'x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext'.split(
      ' ',
    ),
  );
  const secret = Buffer.from('0123456789abcdef0123456789abcdef-config-test');
  token = await createToken(secret, 'admin');
  // The seed page's websocket.conf / broker.conf keys, TLS on, plus token authentication (as data: URI).
  const conf = [
    '# conf/websocket.conf',
    'configurationMetadataStoreUrl=zk1:2181,zk2:2181,zk3:2181',
    'webServicePort=8080',
    'clusterName=my-cluster',
    'tlsEnabled=true',
    'tlsAllowInsecureConnection=false',
    `tlsCertificateFilePath=${join(dir, 'server.pem')}`,
    `tlsKeyFilePath=${join(dir, 'server.key')}`,
    `tlsTrustCertsFilePath=${join(dir, 'ca.pem')}`,
    'authenticationEnabled=true',
    'authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken',
    `tokenSecretKey=data:;base64,${secret.toString('base64')}`,
    'authorizationEnabled=true',
    'superUserRoles=admin',
    'cryptoKeyReaderFactoryClassName=org.apache.pulsar.MyCryptoKeyReaderFactoryClassImpl',
  ].join('\n');
  await writeFile(join(dir, 'websocket.conf'), `${conf}\n`);
  // --port 0 (added by the helper) overrides webServicePort=8080: flags win over the file.
  broker = await startBrokerProcess([
    '--config',
    join(dir, 'websocket.conf'),
    '--data-dir',
    join(dir, 'data'),
  ]);
}, 60_000);

afterAll(async () => {
  broker?.child.kill('SIGTERM');
  await broker?.exited;
  await rm(dir, { recursive: true, force: true });
});

/** A seed example switched to TLS, pointed at the broker, with the token in its URL. */
async function prepare(file: string, topic: string): Promise<string> {
  const source = await readFile(join(SEED_DIR, file), 'utf8');
  const hostPort = new URL(broker?.url ?? '').host;
  let text = source
    .replace('enable_TLS = False', 'enable_TLS = True')
    .replace('const enableTLS = false;', 'const enableTLS = true;')
    .replaceAll('localhost:8080', hostPort)
    .replaceAll('/my-topic', `/${topic}`)
    .replace(/(\/ws\/v2\/[^'"`]*)(['"`])/g, `$1?token=${token}$2`);
  if (file.endsWith('.cjs')) {
    text = text.replace("require('ws')", `require(${JSON.stringify(join(REPO_ROOT, 'node_modules', 'ws'))})`);
  }
  const path = join(dir, `${topic}-${file}`);
  await writeFile(path, text);
  return path;
}

function run(
  command: string,
  script: string,
): { waitFor: (pattern: RegExp) => Promise<string>; stop: () => void } {
  const caFile = join(dir, 'ca.pem');
  const child = spawn(command, [script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The examples use the platform's trust store: point it at the test CA.
    env: {
      ...process.env,
      PYTHONUNBUFFERED: '1',
      SSL_CERT_FILE: caFile,
      WEBSOCKET_CLIENT_CA_BUNDLE: caFile,
      NODE_EXTRA_CA_CERTS: caFile,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    stop: () => child.kill('SIGKILL'),
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const onData = (): void => {
          if (!pattern.test(stdout)) return;
          child.stdout.off('data', onData);
          resolve(stdout);
        };
        child.stdout.on('data', onData);
        child.once('exit', (code) => {
          if (!pattern.test(stdout)) reject(new Error(`${script} exited ${code}:\n${stdout}\n${stderr}`));
        });
        onData();
      }),
  };
}

describe('pulsar-ws broker --config (seed websocket.conf keys, TLS and token auth)', () => {
  it('serves wss:// on the port the flag chose, and refuses a connection without a token', async () => {
    expect(broker?.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    expect(broker?.url).not.toContain(':8080');
    const ca = await readFile(join(dir, 'ca.pem'));
    await expect(
      TestSocket.open(`${broker?.url}/ws/v2/producer/persistent/public/default/x`, { ca }),
    ).rejects.toThrow(/401/);
  });

  it('lists the keys it does not use once, and points cryptoKeyReaderFactoryClassName at --crypto-keys-dir', () => {
    const stderr = broker?.stderr() ?? '';
    const unused = stderr
      .split('\n')
      .filter((line) => line.includes('config keys the embedded broker does not use'));
    expect(unused).toHaveLength(1);
    expect(unused[0]).toContain('configurationMetadataStoreUrl');
    expect(unused[0]).toContain('tlsAllowInsecureConnection');
    expect(unused[0]).not.toContain('tlsCertificateFilePath');
    expect(stderr).toMatch(/cryptoKeyReaderFactoryClassName=.*--crypto-keys-dir/);
  });

  for (const [language, command, ext, published] of [
    ['Python', 'python3', 'py', /Message published successfully/],
    ['Node', process.execPath, 'cjs', /received ack: .*"result":"ok"/],
  ] as const) {
    it(`the seed ${language} producer and consumer work over wss:// with a token`, async () => {
      const topic = `config-seed-${ext}`;
      const ca = await readFile(join(dir, 'ca.pem'));
      // Create my-sub first (the seed consumer starts at Latest).
      const sub = await TestSocket.open(
        `${broker?.url}/ws/v2/consumer/persistent/public/default/${topic}/my-sub?token=${token}`,
        { ca },
      );
      await sub.close();
      const consumer = run(command, await prepare(`consumer.${ext}`, topic));
      try {
        const producer = run(command, await prepare(`producer.${ext}`, topic));
        await producer.waitFor(published);
        producer.stop();
        const output = await consumer.waitFor(/Received: .*Hello World/);
        expect(output).toMatch(/["']key1["']: ?["']value1["']/);
      } finally {
        consumer.stop();
      }
    }, 30_000);
  }
});

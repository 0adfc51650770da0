/** TLS (docs/protocol.md §14 scenario 18): the embedded broker serves wss:// and, with a trust file, client certificates. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BrokerOptionError, EmbeddedBroker } from '../../src/broker/index.js';
import { base64, TestSocket } from '../helpers/ws-client.js';

let dir = '';
let broker: EmbeddedBroker | undefined;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-tls-'));
  openssl(
    'req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca'.split(' '),
  );
  for (const [name, extension] of [
    ['server', 'subjectAltName=IP:127.0.0.1'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    await writeFile(join(dir, `${name}.ext`), `${extension}\n`);
    openssl(`req -newkey rsa:2048 -nodes -keyout ${name}.key -out ${name}.csr -subj /CN=${name}`.split(' '));
    openssl(
      `x509 -req -in ${name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ${name}.pem -days 2 -extfile ${name}.ext`.split(
        ' ',
      ),
    );
  }
});
afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function start(withClientCerts: boolean): Promise<EmbeddedBroker> {
  broker = await EmbeddedBroker.start({
    port: 0,
    dataDir: join(dir, `data-${withClientCerts}`),
    fsync: 'never',
    tlsCertFile: join(dir, 'server.pem'),
    tlsKeyFile: join(dir, 'server.key'),
    ...(withClientCerts ? { tlsTrustCertsFile: join(dir, 'ca.pem') } : {}),
  });
  return broker;
}

const path = '/ws/v2/producer/persistent/public/default/tls';

describe('TLS', () => {
  it('scenario 18: serves wss:// to a client that trusts its CA', async () => {
    const server = await start(false);
    expect(server.url).toMatch(/^wss:\/\//);
    const socket = await TestSocket.open(`${server.url}${path}`, { ca: await readFile(join(dir, 'ca.pem')) });
    socket.send({ payload: base64('secure'), context: 's' });
    expect(await socket.next()).toMatchObject({ result: 'ok', context: 's' });
    await socket.close();
  });

  it('a client that does not trust the certificate cannot connect', async () => {
    const server = await start(false);
    await expect(TestSocket.open(`${server.url}${path}`)).rejects.toThrow(/certificate/);
  });

  it('with a trust file, a client certificate is required', async () => {
    const server = await start(true);
    const ca = await readFile(join(dir, 'ca.pem'));
    await expect(TestSocket.open(`${server.url}${path}`, { ca })).rejects.toThrow();
    const socket = await TestSocket.open(`${server.url}${path}`, {
      ca,
      cert: await readFile(join(dir, 'client.pem')),
      key: await readFile(join(dir, 'client.key')),
    });
    socket.send({ payload: base64('mutual'), context: 'm' });
    expect(await socket.next()).toMatchObject({ result: 'ok' });
    await socket.close();
  });

  it('refuses a certificate without its key', async () => {
    await expect(
      EmbeddedBroker.start({ port: 0, dataDir: join(dir, 'x'), tlsCertFile: join(dir, 'server.pem') }),
    ).rejects.toThrow(BrokerOptionError);
  });
});

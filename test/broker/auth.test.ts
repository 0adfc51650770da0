/** Auth configuration of the embedded broker (the protocol behaviour is in test/conformance/auth.test.ts). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createToken, EmbeddedBroker, PermissionFileError } from '../../src/broker/index.js';
import { handshakeStatus } from '../helpers/ws-client.js';

const KEY = Buffer.alloc(32, 3);
let dir = '';
let broker: EmbeddedBroker | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-auth-opts-'));
  await writeFile(join(dir, 'secret.key'), KEY);
});
afterEach(async () => {
  await broker?.stop();
  broker = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('embedded broker auth options', () => {
  it('a permissions file grants roles per namespace from the start', async () => {
    await writeFile(join(dir, 'grants.json'), JSON.stringify({ 'public/default': { reader: ['consume'] } }));
    broker = await EmbeddedBroker.start({
      port: 0,
      dataDir: join(dir, 'data'),
      authTokenSecretFile: join(dir, 'secret.key'),
      authPermissionsFile: join(dir, 'grants.json'),
    });
    const token = await createToken(KEY, 'reader');
    const base = `${broker.url}/ws/v2`;
    expect(await handshakeStatus(`${base}/reader/persistent/public/default/t?token=${token}`)).toBe(101);
    expect(await handshakeStatus(`${base}/producer/persistent/public/default/t?token=${token}`)).toBe(403);
  });

  it('grants made through the admin API survive a restart', async () => {
    const options = {
      port: 0,
      dataDir: join(dir, 'data'),
      authTokenSecretFile: join(dir, 'secret.key'),
      superUserRoles: ['admin'],
    };
    broker = await EmbeddedBroker.start(options);
    const admin = await createToken(KEY, 'admin');
    const response = await fetch(`${broker.httpUrl}/admin/v2/namespaces/public/default/permissions/app`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${admin}` },
      body: '["produce"]',
    });
    expect(response.status).toBe(204);
    await broker.stop();
    broker = await EmbeddedBroker.start(options);
    const app = await createToken(KEY, 'app');
    expect(
      await handshakeStatus(`${broker.url}/ws/v2/producer/persistent/public/default/t?token=${app}`),
    ).toBe(101);
  });

  it('a grant with an unknown action is a 400 naming it', async () => {
    broker = await EmbeddedBroker.start({
      port: 0,
      dataDir: join(dir, 'data'),
      authTokenSecretFile: join(dir, 'secret.key'),
      superUserRoles: ['admin'],
    });
    const response = await fetch(`${broker.httpUrl}/admin/v2/namespaces/public/default/permissions/app`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await createToken(KEY, 'admin')}` },
      body: '["produce","fly"]',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { reason: string }).reason).toMatch(/unknown action "fly"/);
  });

  it('refuses a malformed permissions file, a short key and a permissions file without a key', async () => {
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ 'public/default': { app: 'produce' } }));
    await expect(
      EmbeddedBroker.start({
        port: 0,
        dataDir: join(dir, 'd1'),
        authTokenSecretFile: join(dir, 'secret.key'),
        authPermissionsFile: join(dir, 'bad.json'),
      }),
    ).rejects.toThrow(PermissionFileError);
    await writeFile(join(dir, 'short.key'), Buffer.alloc(8));
    await expect(
      EmbeddedBroker.start({
        port: 0,
        dataDir: join(dir, 'd2'),
        authTokenSecretFile: join(dir, 'short.key'),
      }),
    ).rejects.toThrow(/needs at least 32/);
    await expect(
      EmbeddedBroker.start({ port: 0, dataDir: join(dir, 'd3'), authPermissionsFile: join(dir, 'bad.json') }),
    ).rejects.toThrow(/needs `authTokenSecretFile`/);
  });
});

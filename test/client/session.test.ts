/** The client's WebSocket session against the embedded broker: auth, errors, reconnection, close. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createToken, EmbeddedBroker } from '../../src/broker/index.js';
import { safeUrl } from '../../src/client/safe-url.js';
import { WsSession, type SessionState } from '../../src/client/session.js';
import { useEmbeddedBrokers } from '../helpers/embedded.js';

const startBroker = useEmbeddedBrokers();
const sessions: WsSession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((session) => session.close()));
});

function open(url: string, options: Partial<ConstructorParameters<typeof WsSession>[0]> = {}): WsSession {
  const session = new WsSession({ url, reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  sessions.push(session);
  return session;
}

const producerPath = '/ws/v2/producer/persistent/public/default/session';

function nextMessage(session: WsSession): Promise<Record<string, unknown>> {
  return new Promise((resolve) =>
    session.once('message', (text) => resolve(JSON.parse(text) as Record<string, unknown>)),
  );
}

describe('WsSession', () => {
  it('connects, sends and receives frames', async () => {
    const broker = await startBroker();
    const session = open(`${broker.url}${producerPath}`);
    await session.connect();
    expect(session.state).toBe('connected');
    const ack = nextMessage(session);
    expect(session.send(JSON.stringify({ payload: 'eA==', context: 'c' }))).toBe(true);
    expect(await ack).toMatchObject({ result: 'ok', context: 'c' });
  });

  it('authenticates with the token as header or query parameter; a bad token is an AuthError, not retried', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pws-session-auth-'));
    try {
      const key = Buffer.alloc(32, 9);
      await writeFile(join(dir, 'secret.key'), key);
      const broker = await startBroker({
        authTokenSecretFile: join(dir, 'secret.key'),
        superUserRoles: ['admin'],
      });
      const token = await createToken(key, 'admin');
      await open(`${broker.url}${producerPath}`, { token }).connect();
      await open(`${broker.url}${producerPath}`, { token, tokenTransport: 'query' }).connect();
      const started = Date.now();
      await expect(open(`${broker.url}${producerPath}`, { token: 'bad' }).connect()).rejects.toMatchObject({
        code: 'PWS_ERR_AUTH',
        status: 401,
      });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('maps refused handshakes: 400 invalid argument, 404 not retried, 409 retried until attempts run out', async () => {
    const broker = await startBroker();
    await expect(open(`${broker.url}${producerPath}?hashingScheme=X`).connect()).rejects.toMatchObject({
      code: 'PWS_ERR_INVALID_ARG',
    });
    await expect(
      open(`${broker.url}/ws/v2/producer/persistent/public/missing/t`).connect(),
    ).rejects.toMatchObject({ code: 'PWS_ERR_CONNECT', status: 404, retryable: false });
    await open(`${broker.url}${producerPath}?producerName=taken`).connect();
    const busy = open(`${broker.url}${producerPath}?producerName=taken`, {
      reconnect: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 },
    });
    await expect(busy.connect()).rejects.toMatchObject({ code: 'PWS_ERR_CONNECT', status: 409 });
  });

  it('reconnects after the broker restarts, reporting each state', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pws-session-restart-'));
    try {
      let broker = await EmbeddedBroker.start({ port: 0, dataDir, fsync: 'never' });
      const port = broker.port;
      const session = open(`${broker.url}${producerPath}`);
      const states: SessionState[] = [];
      session.on('state', (state) => states.push(state));
      await session.connect();
      const reconnected = new Promise<void>((resolve) =>
        session.on('state', (state) => {
          if (state === 'connected') resolve();
        }),
      );
      await broker.stop();
      broker = await EmbeddedBroker.start({ port, dataDir, fsync: 'never' });
      await reconnected;
      expect(states).toEqual(['connected', 'reconnecting', 'connected']);
      const ack = nextMessage(session);
      session.send(JSON.stringify({ payload: 'eA==', context: 'again' }));
      expect(await ack).toMatchObject({ result: 'ok', context: 'again' });
      await session.close();
      await broker.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('close() ends the session for good; send then returns false', async () => {
    const broker = await startBroker();
    const session = open(`${broker.url}${producerPath}`);
    await session.connect();
    await session.close();
    expect(session.state).toBe('closed');
    expect(session.send('{}')).toBe(false);
  });

  it('never puts a token in a URL meant for logs', () => {
    expect(safeUrl('ws://user:pw@h:1/ws/v2/producer/p/t/n/x?token=secret&a=1')).toBe(
      'ws://h:1/ws/v2/producer/p/t/n/x?token=redacted&a=1',
    );
  });
});

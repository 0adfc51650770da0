/**
 * The server a conformance test talks to: real Pulsar when `PULSAR_WS_URL` is set (and
 * `PULSAR_ADMIN_URL` for admin calls), else an embedded broker started in-process on port 0 with a
 * fresh data directory. Call `useTarget()` at the top of a test file.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createToken, EmbeddedBroker, type EmbeddedBrokerOptions } from '../../src/broker/index.js';

export interface Target {
  /** e.g. `ws://127.0.0.1:8080` */
  readonly wsUrl: string;
  /** e.g. `http://127.0.0.1:8080`, for admin calls. */
  readonly adminUrl: string;
  /** True for the in-process embedded broker; false for an external server such as real Pulsar. */
  readonly embedded: boolean;
}

/** True when the suite runs against an external server (real Pulsar). */
export const externalTarget = process.env.PULSAR_WS_URL !== undefined && process.env.PULSAR_WS_URL !== '';

export function useTarget(options: Partial<EmbeddedBrokerOptions> = {}): Target {
  let broker: EmbeddedBroker | undefined;
  let dataDir: string | undefined;
  const target = { wsUrl: '', adminUrl: '', embedded: !externalTarget };
  beforeAll(async () => {
    if (externalTarget) {
      target.wsUrl = (process.env.PULSAR_WS_URL ?? '').replace(/\/$/, '');
      target.adminUrl = (process.env.PULSAR_ADMIN_URL ?? target.wsUrl.replace(/^ws/, 'http')).replace(
        /\/$/,
        '',
      );
      return;
    }
    dataDir = await mkdtemp(join(tmpdir(), 'pws-conformance-'));
    broker = await EmbeddedBroker.start({ port: 0, dataDir, fsync: 'never', ...options });
    target.wsUrl = broker.url;
    target.adminUrl = broker.httpUrl;
  });
  afterAll(async () => {
    await broker?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });
  return target;
}

let counter = 0;

/** A topic name no other test (or earlier run against the same server) uses. */
export function uniqueTopic(prefix = 't'): string {
  counter++;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export function producerUrl(target: Target, topic: string, query = ''): string {
  return `${target.wsUrl}/ws/v2/producer/persistent/public/default/${topic}${query}`;
}

export function consumerUrl(target: Target, topic: string, subscription: string, query = ''): string {
  return `${target.wsUrl}/ws/v2/consumer/persistent/public/default/${topic}/${subscription}${query}`;
}

export function readerUrl(target: Target, topic: string, query = ''): string {
  return `${target.wsUrl}/ws/v2/reader/persistent/public/default/${topic}${query}`;
}

export interface AuthTarget extends Target {
  /** The secret key the server verifies tokens with; tests mint tokens with it. */
  secretKey: Buffer;
  /** A super-user role's token. */
  adminToken: string;
}

/** True when an auth-enabled external server is configured (`PULSAR_AUTH_WS_URL`). */
export const externalAuthTarget = (process.env.PULSAR_AUTH_WS_URL ?? '') !== '';

/**
 * A server with token auth and authorization on, super-user role `admin`: real Pulsar when
 * `PULSAR_AUTH_WS_URL`, `PULSAR_AUTH_ADMIN_URL` and `PULSAR_AUTH_SECRET_FILE` are set, else an
 * embedded broker started with a fresh secret key.
 */
export function useAuthTarget(): AuthTarget {
  let broker: EmbeddedBroker | undefined;
  let dataDir: string | undefined;
  const target: { -readonly [K in keyof AuthTarget]: AuthTarget[K] } = {
    wsUrl: '',
    adminUrl: '',
    embedded: !externalAuthTarget,
    secretKey: Buffer.alloc(0),
    adminToken: '',
  };
  beforeAll(async () => {
    if (externalAuthTarget) {
      target.wsUrl = (process.env.PULSAR_AUTH_WS_URL ?? '').replace(/\/$/, '');
      target.adminUrl = (process.env.PULSAR_AUTH_ADMIN_URL ?? target.wsUrl.replace(/^ws/, 'http')).replace(
        /\/$/,
        '',
      );
      target.secretKey = await readFile(process.env.PULSAR_AUTH_SECRET_FILE ?? '');
    } else {
      dataDir = await mkdtemp(join(tmpdir(), 'pws-auth-'));
      const secretFile = join(dataDir, 'secret.key');
      target.secretKey = randomBytes(32);
      await writeFile(secretFile, target.secretKey);
      broker = await EmbeddedBroker.start({
        port: 0,
        dataDir: join(dataDir, 'data'),
        fsync: 'never',
        authTokenSecretFile: secretFile,
        superUserRoles: ['admin'],
      });
      target.wsUrl = broker.url;
      target.adminUrl = broker.httpUrl;
    }
    target.adminToken = await createToken(target.secretKey, 'admin');
  });
  afterAll(async () => {
    await broker?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });
  return target;
}

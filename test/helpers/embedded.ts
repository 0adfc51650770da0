/** Embedded brokers for tests that need a specific configuration, stopped and removed after each test. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from '../../src/broker/index.js';

/** Returns a starter; every broker it starts is stopped (and its data removed) after the test. */
export function useEmbeddedBrokers(): (options?: Partial<EmbeddedBrokerOptions>) => Promise<EmbeddedBroker> {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return async (options = {}) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pws-broker-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const broker = await EmbeddedBroker.start({ port: 0, dataDir, fsync: 'never', ...options });
    cleanups.push(() => broker.stop());
    return broker;
  };
}

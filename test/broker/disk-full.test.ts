/**
 * Disk full, then freed, with the broker started from the bin as a user starts it and its data
 * directory on a small tmpfs: publishes get error acks while the disk is full and succeed again on
 * the same connection once space is freed; a consumer connected throughout gets every acknowledged
 * message exactly once; after a SIGKILL and restart, none of the failed messages is there.
 */
import { rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveredMessage } from '../../src/protocol/index.js';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { mountTmpfs, tmpfsUnavailable, type Tmpfs } from '../helpers/mounts.js';
import { consumerUrl, producerUrl, readerUrl, type Target } from '../helpers/target.js';
import { base64, fromBase64, TestSocket } from '../helpers/ws-client.js';

const skipReason = process.getuid?.() !== 0 ? 'needs root to mount a tmpfs' : tmpfsUnavailable;

interface Ack {
  readonly result: string;
  readonly context: string;
  readonly messageId?: string;
  readonly errorMsg?: string;
}

let broker: BrokerProcess | undefined;
let mount: Tmpfs | undefined;
const sockets: TestSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) await socket.close();
  broker?.child.kill('SIGKILL');
  if (broker !== undefined) await broker.exited;
  broker = undefined;
  await mount?.remove();
  mount = undefined;
});

async function start(dataDir: string): Promise<Target> {
  broker = await startBrokerProcess(['--data-dir', dataDir, '--log-level', 'warn']);
  return { wsUrl: broker.url, adminUrl: broker.url.replace(/^ws/, 'http'), embedded: true };
}

async function open(url: string): Promise<TestSocket> {
  const socket = await TestSocket.open(url);
  sockets.push(socket);
  return socket;
}

/**
 * A payload of about `bytes` naming its message. Small by default: many arrive in one TCP read, so the
 * broker writes them in batches of several, and a batch fails after some of its records were written.
 */
function payloadOf(name: string, bytes: number): string {
  return `${name}:${'x'.repeat(bytes)}`;
}

/** Sends `names` pipelined (payloads of about `bytes`) and returns their acks by name. */
async function publish(
  producer: TestSocket,
  names: readonly string[],
  bytes = 2 * 1024,
): Promise<Map<string, Ack>> {
  for (const name of names) producer.send({ payload: base64(payloadOf(name, bytes)), context: name });
  const acks = new Map<string, Ack>();
  for (const ack of await producer.take<Ack>(names.length, 30_000)) acks.set(ack.context, ack);
  return acks;
}

/** Bytes still free on the file system of `dir`. */
async function freeBytes(dir: string): Promise<number> {
  const { bavail, bsize } = await statfs(dir);
  return bavail * bsize;
}

describe.skipIf(skipReason !== undefined)(
  `disk full, then freed (process-level, tmpfs)${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    it('error acks while full, the same connections work again once freed, nothing failed comes back after SIGKILL', async () => {
      mount = await mountTmpfs(16 * 1024 * 1024);
      const dataDir = join(mount.dir, 'data');
      const dummy = join(mount.dir, 'dummy');
      let target = await start(dataDir);
      const topic = 'disk-full';
      const producer = await open(producerUrl(target, topic));
      const consumer = await open(consumerUrl(target, topic, 'sub'));
      const acked: string[] = [];
      const failed: string[] = [];
      const record = (acks: Map<string, Ack>): void => {
        for (const [name, ack] of acks) (ack.result === 'ok' ? acked : failed).push(name);
      };

      // Before: all stored.
      const before = await publish(
        producer,
        Array.from({ length: 200 }, (_, i) => `before-${i}`),
      );
      expect([...before.values()].every((ack) => ack.result === 'ok')).toBe(true);
      record(before);

      // Fill the disk but for about fifty messages, then publish until error acks come back: a batch
      // then fails after some of its records were written whole, and they must not come back.
      await writeFile(dummy, Buffer.alloc(Math.max(0, (await freeBytes(mount.dir)) - 100 * 1024)));
      const errors: Ack[] = [];
      for (let round = 0; errors.length === 0 && round < 20; round++) {
        const acks = await publish(
          producer,
          Array.from({ length: 200 }, (_, i) => `full-${round}-${i}`),
        );
        record(acks);
        errors.push(...[...acks.values()].filter((ack) => ack.result !== 'ok'));
      }
      expect(errors.length).toBeGreaterThanOrEqual(3);
      for (const ack of errors) {
        expect(ack.result).toMatch(/^send-error/);
        expect(ack.errorMsg).toMatch(/ENOSPC/);
        expect(ack.errorMsg).not.toContain(mount.dir); // no server path reaches a client
      }
      // The broker is up and serves HTTP; both sockets are still open.
      const status = await fetch(`${target.adminUrl}/admin/v2/persistent/public/default`);
      expect(status.status).toBe(200);
      expect(broker?.child.exitCode).toBeNull();

      // Freed: the same producer connection publishes again. Small messages, so that they would
      // overwrite only the start of what the failed batches left in the ledger, had it not been cut.
      await rm(dummy);
      const after = await publish(producer, ['after-0', 'after-1'], 100);
      expect([...after.values()].map((ack) => ack.result)).toEqual(['ok', 'ok']);
      record(after);

      // The consumer, connected throughout, gets every acknowledged message once, and nothing else.
      const delivered = await consumer.take<DeliveredMessage>(acked.length, 30_000);
      expect(delivered.map((m) => fromBase64(m.payload).split(':')[0])).toEqual(acked);
      expect(await consumer.drain()).toEqual([]);

      // SIGKILL and restart on the same directory: the acknowledged messages only.
      broker?.child.kill('SIGKILL');
      expect(await broker?.exited).toBe('SIGKILL');
      for (const socket of sockets.splice(0)) await socket.close();
      target = await start(dataDir);
      const reader = await open(readerUrl(target, topic, '?messageId=earliest'));
      const stored: string[] = [];
      while (stored.length < acked.length) {
        const message = await reader.next<DeliveredMessage>(30_000);
        stored.push(fromBase64(message.payload).split(':')[0] ?? '');
        reader.send({ messageId: message.messageId });
      }
      expect(stored).toEqual(acked);
      expect(await reader.drain()).toEqual([]);
      expect(failed.length).toBeGreaterThanOrEqual(3);
      expect(stored.some((name) => failed.includes(name))).toBe(false);
    }, 120_000);
  },
);

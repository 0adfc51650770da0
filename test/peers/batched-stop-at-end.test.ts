/**
 * A reader with `stopAtEnd` when the topic's last entry is a batch (as Java and Python clients publish
 * by default): the stream ends after the batch's last message, not at its first. The batch is
 * published by the binary-protocol Python `pulsar-client`, so this needs real Pulsar and
 * `PULSAR_SERVICE_URL`.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PulsarWsClient } from '../../src/index.js';
import { decodeMessageId } from '../../src/protocol/index.js';
import { pythonModuleMissing, titled } from '../helpers/prerequisites.js';
import { publishAll, range } from '../helpers/publish.js';
import { runPythonPeer } from '../helpers/python-peer.js';
import { externalTarget, uniqueTopic, useTarget } from '../helpers/target.js';

const PEER = fileURLToPath(new URL('./pulsar_batch_peer.py', import.meta.url));
const serviceUrl = process.env.PULSAR_SERVICE_URL ?? '';
const target = useTarget();
const clients: PulsarWsClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

const pulsarClientMissing =
  externalTarget && serviceUrl !== '' ? pythonModuleMissing('pulsar', 'pulsar-client') : undefined;

/** Publishes `payloads` as one batched entry; resolves with their ids. */
async function publishBatch(topic: string, payloads: readonly string[]): Promise<string[]> {
  const lines = (await runPythonPeer(PEER, [
    serviceUrl,
    `persistent://public/default/${topic}`,
    ...payloads,
  ])) as {
    message_id: string;
  }[];
  return lines.map((line) => line.message_id);
}

function newClient(): PulsarWsClient {
  const client = new PulsarWsClient({ url: target.wsUrl });
  clients.push(client);
  return client;
}

const payloadsOf = (messages: readonly { payload: Buffer }[]) => messages.map((m) => m.payload.toString());

describe.skipIf(!externalTarget || serviceUrl === '' || pulsarClientMissing !== undefined)(
  titled('real Pulsar only (a batch published by the Python pulsar-client)', pulsarClientMissing),
  () => {
    it('reads every message of a last entry that is a batch, then ends', async () => {
      const topic = uniqueTopic('batch-end');
      await publishAll(target, topic, range(2, 'single'));
      const ids = await publishBatch(topic, ['b0', 'b1', 'b2']);
      const batch = ids.map(decodeMessageId);
      expect(batch.map((id) => id.batchIndex)).toEqual([0, 1, 2]);
      expect(new Set(batch.map((id) => `${id.ledgerId}:${id.entryId}`)).size).toBe(1);
      const read = await newClient().reader(topic, { startMessageId: 'earliest', stopAtEnd: true }).toArray();
      expect(payloadsOf(read)).toEqual(['single0', 'single1', 'b0', 'b1', 'b2']);
    });

    it('from inside the batch: reads the rest of it, then ends; from its last message: ends at once', async () => {
      const topic = uniqueTopic('batch-from');
      const ids = await publishBatch(topic, ['b0', 'b1', 'b2', 'b3']);
      const first = ids[0] ?? '';
      const rest = await newClient().reader(topic, { startMessageId: first, stopAtEnd: true }).toArray();
      expect(payloadsOf(rest)).toEqual(['b1', 'b2', 'b3']);
      const none = await newClient()
        .reader(topic, { startMessageId: ids[3] ?? '', stopAtEnd: true })
        .toArray();
      expect(none).toEqual([]);
    });

    it('a partitioned topic whose partitions end in batches: every message of each', async () => {
      const topic = uniqueTopic('batch-parts');
      const created = await fetch(
        `${target.adminUrl}/admin/v2/persistent/public/default/${topic}/partitions`,
        {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json' },
          body: '2',
        },
      );
      expect(created.status).toBe(204);
      await publishBatch(`${topic}-partition-0`, ['p0-0', 'p0-1']);
      await publishBatch(`${topic}-partition-1`, ['p1-0', 'p1-1', 'p1-2']);
      const read = await newClient().reader(topic, { startMessageId: 'earliest', stopAtEnd: true }).toArray();
      expect(payloadsOf(read).sort()).toEqual(['p0-0', 'p0-1', 'p1-0', 'p1-1', 'p1-2']);
    });
  },
);

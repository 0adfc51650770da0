/**
 * Effectively-once publishing of a file source (`file-to-topic --dedup`, sidecar `dedup`): the
 * producer options that make a restart resend with the same sequence ids, to the same partitions.
 *
 * A checkpoint records the acknowledged prefix of each input: its message count (the input
 * position, and the sequence id on a non-partitioned topic) and, into a partitioned topic, each
 * partition's last sequence id. Checkpoints written before partitions were handled (or while the
 * topic was not partitioned) have the count only; into a partitioned topic that cannot say where
 * each partition stood, and the older runs may have stored sequence ids up to the input position on
 * any partition. Such an entry is upgraded before the file opens: every partition goes on after the
 * current time in epoch milliseconds, which is above any message count an input reaches, so nothing
 * new is dropped as a duplicate (what was in flight at the last crash may be stored twice, once).
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ProducerOptions } from '../streams/pulsar-ws-client.js';
import type { PulsarWsClient } from '../streams/pulsar-ws-client.js';
import type { CheckpointStore } from './checkpoint.js';
import type { FileSource } from './file-source.js';

/**
 * Before `FileSource.open(file)`: gives a checkpoint entry without per-partition sequence ids its
 * starting ids when `topic` is partitioned (see the module doc). Asks the admin API only then.
 */
export async function upgradeCheckpointEntry(
  client: PulsarWsClient,
  topic: string,
  file: string,
  checkpoint: CheckpointStore | undefined,
  logger: Logger | undefined,
): Promise<void> {
  const path = resolve(file);
  const saved = checkpoint?.get(path);
  if (
    checkpoint === undefined ||
    saved === undefined ||
    saved.messages === 0 ||
    saved.sequenceIds !== undefined
  )
    return;
  const partitions = await client.partitionCount(topic);
  if (partitions === 0) return;
  const start = Date.now();
  logger?.warn(
    { file: path, topic, partitions, sequenceIdsFrom: start + 1 },
    'the checkpoint has no per-partition sequence ids (written by an older version): each partition goes on after the current time in ms; what was in flight at the last crash may be stored twice',
  );
  checkpoint.set(path, { ...saved, sequenceIds: Array.from({ length: partitions }, () => start) });
  await checkpoint.flush();
}

/** The effectively-once producer options for an opened file source. */
export function effectivelyOnceOptions(
  source: FileSource,
  producerName: string,
): ProducerOptions & { readonly effectivelyOnce: true } {
  return {
    effectivelyOnce: true,
    producerName,
    initialSequenceId: source.firstMessage - 1,
    ...(source.partitionSequenceIds === undefined
      ? {}
      : { partitionSequenceIds: source.partitionSequenceIds }),
  };
}

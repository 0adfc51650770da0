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
 *
 * Entries also record the partition count the producer routed over (`partitions`), and their
 * `sequenceIds` have one entry per partition, so a restart into a topic that gained partitions is
 * told apart from partitions no message reached yet. Entries with `sequenceIds` written before that
 * (the array only as long as the highest partition acknowledged) are completed before the file
 * opens: padded with -1 up to the topic's current count, assuming it did not change since.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ProducerOptions } from '../streams/pulsar-ws-client.js';
import type { PulsarWsClient } from '../streams/pulsar-ws-client.js';
import type { CheckpointStore } from './checkpoint.js';
import type { FileSource } from './file-source.js';

/**
 * Before `FileSource.open(file)`: completes a checkpoint entry an older version wrote for a
 * partitioned `topic` (see the module doc). Asks the admin API only for such an entry.
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
    saved.partitions !== undefined
  )
    return;
  const partitions = await client.partitionCount(topic);
  if (partitions === 0) return;
  if (saved.sequenceIds === undefined) {
    const start = Date.now();
    logger?.warn(
      { file: path, topic, partitions, sequenceIdsFrom: start + 1 },
      'the checkpoint has no per-partition sequence ids (written by an older version): each partition goes on after the current time in ms; what was in flight at the last crash may be stored twice',
    );
    checkpoint.set(path, {
      ...saved,
      sequenceIds: Array.from({ length: partitions }, () => start),
      partitions,
    });
  } else {
    // More entries than partitions: left as is, for the producer to refuse (partitions cannot be removed).
    if (saved.sequenceIds.length > partitions) return;
    const missing = partitions - saved.sequenceIds.length;
    if (missing > 0) {
      logger?.info(
        { file: path, topic, partitions, recorded: saved.sequenceIds.length },
        'the checkpoint (written by an older version) has no partition count: partitions past those it names start at -1, assuming the topic had these partitions when it was written',
      );
    }
    checkpoint.set(path, {
      ...saved,
      sequenceIds: [...saved.sequenceIds, ...Array.from({ length: missing }, () => -1)],
      partitions,
    });
  }
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

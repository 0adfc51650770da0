/**
 * What a producer's write callback means, and what means stored (docs/api.md, "A write's callback
 * does not mean stored"), without a server: the callback fires when the message enters the
 * in-flight window, before any ack; a `Tracked` chunk's receipt, the `'ack'` event and `'finish'`
 * (so `pipeline()`'s resolution) come only with the broker's acks, `'finish'` after the last one.
 * Both producer kinds: `ProducerStream`, and the effectively-once stream over partition lanes.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { encodeMessageId, messageIdOf } from '../../src/protocol/index.js';
import { EffectivelyOnceProducerStream } from '../../src/streams/effectively-once-producer.js';
import { ProducerStream } from '../../src/streams/producer-stream.js';
import { Tracked, type WriteReceipt } from '../../src/streams/tracked.js';
import { FakeSession } from '../helpers/fake-session.js';

function ack(session: FakeSession, context: string, entryId: number): void {
  session.deliver({ result: 'ok', messageId: encodeMessageId(messageIdOf(1, entryId)), context });
}

/** Lets the streams run until `condition` holds (a bounded number of event-loop turns, no clock). */
async function settle(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 100 && !condition(); turn++) await tick();
  expect(condition()).toBe(true);
}

/** Values whose receipts are recorded: a receipt means the broker acknowledged (stored) the value. */
function trackedValues(texts: readonly string[], receipts: Map<string, WriteReceipt | undefined>) {
  return texts.map((text) => new Tracked(text, (receipt) => receipts.set(text, receipt)));
}

describe('producer write contract', () => {
  it('ProducerStream: write callbacks fire before any ack; receipts and acks only with the broker ack', async () => {
    const session = new FakeSession();
    const producer = new ProducerStream(session, { maxInFlight: 10 });
    session.establish();
    const receipts = new Map<string, WriteReceipt | undefined>();
    const accepted: string[] = [];
    const acked: string[] = [];
    producer.on('ack', (event) => acked.push(event.context));
    for (const value of trackedValues(['a', 'b', 'c'], receipts))
      producer.write(value, () => accepted.push(value.value));
    await settle(() => session.sent.length === 3 && accepted.length === 3);
    // Accepted into the window, nothing stored yet.
    expect(accepted).toEqual(['a', 'b', 'c']);
    expect(receipts.size).toBe(0);
    expect(acked).toEqual([]);
    ack(session, '1', 11);
    expect([...receipts.keys()]).toEqual(['b']);
    expect(receipts.get('b')?.messageId).toBe(encodeMessageId(messageIdOf(1, 11)));
    expect(acked).toEqual(['1']);
    producer.destroy();
  });

  it('ProducerStream: pipeline() resolves (finish) only after the last ack', async () => {
    const session = new FakeSession();
    const producer = new ProducerStream(session, { maxInFlight: 10 });
    session.establish();
    const receipts = new Map<string, WriteReceipt | undefined>();
    let finished = false;
    producer.once('finish', () => (finished = true));
    let resolved = false;
    const done = pipeline(Readable.from(trackedValues(['a', 'b', 'c'], receipts)), producer).then(
      () => (resolved = true),
    );
    await settle(() => session.sent.length === 3);
    ack(session, '0', 0);
    ack(session, '2', 2);
    // Every write's callback fired and end() was called long ago; one message is still unacked.
    for (let turn = 0; turn < 20; turn++) await tick();
    expect(producer.writableEnded).toBe(true);
    expect(finished).toBe(false);
    expect(resolved).toBe(false);
    ack(session, '1', 1);
    await done;
    expect(finished).toBe(true);
    expect([...receipts.keys()].sort()).toEqual(['a', 'b', 'c']);
  });

  it('effectively-once over partitions: pipeline() resolves only after every lane acked every message', async () => {
    const sessions = [new FakeSession(), new FakeSession()];
    const producer = new EffectivelyOnceProducerStream(
      {
        partitionCount: () => Promise.resolve(2),
        open: (partition, initialSequenceId) => {
          const session = sessions[partition ?? 0] ?? new FakeSession();
          const lane = new ProducerStream(session, { initialSequenceId });
          session.establish();
          return lane;
        },
        warn: () => undefined,
      },
      { topic: 't', initialSequenceId: -1, hashingScheme: 'JavaStringHash' },
    );
    const receipts = new Map<string, WriteReceipt | undefined>();
    let resolved = false;
    const done = pipeline(Readable.from(trackedValues(['m0', 'm1', 'm2', 'm3'], receipts)), producer).then(
      () => (resolved = true),
    );
    await settle(() => sessions.every((session) => session.sent.length === 2));
    ack(sessions[0]!, '0', 0);
    ack(sessions[0]!, '1', 1);
    ack(sessions[1]!, '1', 1);
    for (let turn = 0; turn < 20; turn++) await tick();
    expect(resolved).toBe(false);
    expect([...receipts.keys()].sort()).toEqual(['m0', 'm2', 'm3']);
    // Position 1 (partition 1, sequence id 0) holds the acknowledged prefix at position 0.
    expect(producer.lastAckedSequenceId).toBe(0);
    ack(sessions[1]!, '0', 0);
    await done;
    expect(receipts.get('m1')).toMatchObject({ partition: 1, sequenceId: 0 });
    expect(producer.lastAckedSequenceId).toBe(3);
    expect(producer.partitionSequenceIds).toEqual([1, 1]);
    expect(sessions.every((session) => session.closedOnPurpose)).toBe(true);
  });
});

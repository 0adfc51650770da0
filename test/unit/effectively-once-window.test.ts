/**
 * The effectively-once producer's window across partitions, without a server (fake sessions as the
 * partitions): keyless messages go round robin by position, acks from different partitions come in
 * any order, and the stream holds its writes while the span from the oldest unacknowledged position
 * to the newest sent reaches `maxInFlight` (one slow partition holds it; the others cannot run ahead
 * without bound). A write's callback means "accepted into the window" (it fires before any ack);
 * what is stored shows in the resume state, which only advances over positions that are all
 * acknowledged (test/unit/producer-write-contract.test.ts has the rest of that contract).
 */
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { encodeMessageId, messageIdOf } from '../../src/protocol/index.js';
import { EffectivelyOnceProducerStream } from '../../src/streams/effectively-once-producer.js';
import { ProducerStream } from '../../src/streams/producer-stream.js';
import { FakeSession } from '../helpers/fake-session.js';

function ack(session: FakeSession, context: string): void {
  session.deliver({ result: 'ok', messageId: encodeMessageId(messageIdOf(1, Number(context))), context });
}

describe('effectively-once producer window', () => {
  it('write callbacks admit into the window before any ack; held while one partition lags maxInFlight positions', async () => {
    const sessions = [new FakeSession(), new FakeSession()];
    const producer = new EffectivelyOnceProducerStream(
      {
        partitionCount: () => Promise.resolve(2),
        open: (partition, initialSequenceId) => {
          const session = sessions[partition ?? 0] ?? new FakeSession();
          const lane = new ProducerStream(session, { initialSequenceId, maxInFlight: 4 });
          session.establish();
          return lane;
        },
        warn: () => undefined,
      },
      { topic: 't', initialSequenceId: -1, hashingScheme: 'JavaStringHash', maxInFlight: 4 },
    );
    // `accepted`: write callbacks (admitted into the window); `acked`: the 'ack' events (stored).
    const accepted: number[] = [];
    const acked: string[] = [];
    producer.on('ack', (event) => acked.push(`${event.partition}:${event.sequenceId}`));
    for (let position = 0; position < 6; position++)
      producer.write(`m${position}`, () => accepted.push(position));
    await tick();
    await tick();
    const payloads = (session: FakeSession) =>
      session.sent.map((frame) => Buffer.from(String(frame.payload), 'base64').toString());
    expect(payloads(sessions[0]!)).toEqual(['m0', 'm2']);
    expect(payloads(sessions[1]!)).toEqual(['m1', 'm3']);
    // Three writes accepted with no ack at all: their callbacks do not mean stored. The fourth
    // position fills the window (maxInFlight 4), so its callback waits for room.
    expect(accepted).toEqual([0, 1, 2]);
    expect(acked).toEqual([]);
    expect(producer.lastAckedSequenceId).toBe(-1);
    // Partition 1 answers; position 0 (partition 0) still holds the prefix, so nothing moves.
    ack(sessions[1]!, '0');
    ack(sessions[1]!, '1');
    await tick();
    expect(accepted).toEqual([0, 1, 2]);
    expect(acked).toEqual(['1:0', '1:1']);
    expect(producer.lastAckedSequenceId).toBe(-1);
    expect(producer.partitionSequenceIds).toEqual([-1, -1]);
    ack(sessions[0]!, '0');
    await tick();
    await tick();
    expect(producer.lastAckedSequenceId).toBe(1);
    expect(producer.partitionSequenceIds).toEqual([0, 0]);
    // Positions 2 to 5 are in flight after the next write: the one after waits again.
    expect(accepted).toEqual([0, 1, 2, 3, 4]);
    expect(payloads(sessions[0]!)).toEqual(['m0', 'm2', 'm4']);
    producer.destroy();
  });
});

/**
 * A sink holds each message's `written` until its data is durable (the file sink up to 10 000 of
 * them, until its next fsync). What it holds must not keep the message's payload alive: a closure
 * made in `settlementOf` once shared its scope with the message, so every held ack kept a payload,
 * which cost topic-to-file 30 MB of RSS and a good share of its garbage-collection time.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { toConsumerMessage } from '../../src/streams/consumer-message.js';
import { settlementOf, toTracked } from '../../src/streams/tracked.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** A message as a consumer stream builds it, with a payload of `bytes` bytes. */
function deliveredMessage(bytes: number, acks: string[]) {
  return toConsumerMessage(
    {
      messageId: 'CAEQAg==',
      payload: Buffer.alloc(bytes, 1).toString('base64'),
      properties: {},
      publishTime: '2026-12-03T00:00:00.000Z',
      redeliveryCount: 0,
    },
    (kind, messageId) => acks.push(`${kind} ${messageId}`),
  );
}

/** Whether the weakly held payloads were collected once nothing but the acks refers to them. */
async function collected(payloads: readonly WeakRef<Buffer>[]): Promise<boolean> {
  // A WeakRef keeps its target alive until the end of the job that made it.
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  return payloads.every((payload) => payload.deref() === undefined);
}

/**
 * `count` messages settled as a sink settles them, keeping only their `written` (and weak refs to
 * their payloads). In a function of its own: a suspended async test would keep its last message
 * in a register.
 */
function settleMany(count: number, acks: string[]) {
  const payloads: WeakRef<Buffer>[] = [];
  const held: (() => void)[] = [];
  for (let index = 0; index < count; index++) {
    const message = deliveredMessage(64 * 1024, acks);
    payloads.push(new WeakRef(message.payload));
    held.push(settlementOf(message).written);
  }
  return { payloads, held };
}

describe('what a sink holds until its write is durable', () => {
  it('the ack of a consumer message does not keep its payload alive', async () => {
    const acks: string[] = [];
    const { payloads, held } = settleMany(8, acks);
    expect(await collected(payloads)).toBe(true);
    for (const written of held) written();
    expect(acks).toHaveLength(8);
  });

  it('a message made tracked (toTracked) acks once, through its own ack', () => {
    const acks: string[] = [];
    const tracked = toTracked(deliveredMessage(16, acks));
    tracked.written();
    tracked.written();
    expect(acks).toEqual(['ack CAEQAg==']);
  });
});

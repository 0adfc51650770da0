/**
 * Key_Shared (AUTO_SPLIT) as Pulsar 4.0.7 dispatches it: keys go to consumers by consistent hashing of
 * consumer names (computed here with the ring the embedded broker uses, so on Pulsar this checks the
 * ring itself), messages without a key are delivered once each, and a consumer that joins does not
 * get a key until the messages of that key another consumer holds are acknowledged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConsistentHashRing, keySlot } from '../../src/broker/topics/key-shared.js';
import type { DeliveredMessage } from '../../src/protocol/index.js';
import { publishAll } from '../helpers/publish.js';
import { consumerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { SocketPool, type TestSocket } from '../helpers/ws-client.js';

const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

function keySharedConsumer(topic: string, name: string): Promise<TestSocket> {
  return pool.open(
    consumerUrl(
      target,
      topic,
      'sub',
      `?subscriptionType=Key_Shared&subscriptionInitialPosition=Earliest&consumerName=${name}`,
    ),
  );
}

/** The owner of `key` among consumers named `names` (joined in that order). */
function ownerOf(names: readonly string[], key: string): string | undefined {
  const ring = new ConsistentHashRing<{ name: string }>();
  for (const name of names) ring.add({ name });
  return ring.select(keySlot(key))?.name;
}

/** Everything a consumer has received within the quiet period, as keys (`-` for none). */
async function receivedKeys(socket: TestSocket): Promise<string[]> {
  return (await socket.drain()).map((frame) => (JSON.parse(frame) as DeliveredMessage).key ?? '-');
}

describe('Key_Shared (Pulsar 4.0.7)', () => {
  it('assigns every key to the consumer consistent hashing picks; keyless messages once each', async () => {
    const topic = uniqueTopic('ks');
    const names = ['ks-a', 'ks-b', 'ks-c'];
    const sockets = await Promise.all(names.map((name) => keySharedConsumer(topic, name)));
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    await publishAll(
      target,
      topic,
      keys.map((key) => `payload of ${key}`),
      { key: (index) => keys[index] ?? '' },
    );
    await publishAll(target, topic, ['no key 1', 'no key 2']);
    let keyless = 0;
    for (const [index, name] of names.entries()) {
      const socket = sockets[index];
      if (socket === undefined) throw new Error(`no socket for ${name}`);
      const received = await receivedKeys(socket);
      keyless += received.filter((key) => key === '-').length;
      const expected = keys.filter((key) => ownerOf(names, key) === name);
      expect(received.filter((key) => key !== '-').sort()).toEqual(expected.sort());
    }
    expect(keyless).toBe(2);
  });

  it('a joining consumer gets a key only after the messages of that key held by another are acknowledged', async () => {
    const topic = uniqueTopic('ks-join');
    const [first, second] = ['join-a', 'join-b'];
    // A key that moves from the first consumer to the second when the second joins.
    let key = '';
    for (let i = 0; ownerOf([first, second], key) !== second; i++) key = `moving-${i}`;
    const a = await keySharedConsumer(topic, first);
    await publishAll(target, topic, ['k1', 'k2', 'k3'], { key: () => key });
    const held = await a.take<DeliveredMessage>(3);
    const b = await keySharedConsumer(topic, second);
    await publishAll(target, topic, ['k4', 'k5'], { key: () => key });
    // Neither gets the new messages: the key now belongs to the second, which must wait.
    expect(await b.drain()).toEqual([]);
    expect(await a.drain()).toEqual([]);
    for (const message of held) a.send({ messageId: message.messageId });
    const later = await b.take<DeliveredMessage>(2);
    expect(later.map((message) => Buffer.from(message.payload, 'base64').toString())).toEqual(['k4', 'k5']);
  });
});

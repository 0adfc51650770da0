/** The §4.4 flow-control algorithm against an in-memory source. */
import { describe, expect, it } from 'vitest';
import { DeliveryLoop } from '../../src/broker/sessions/delivery-loop.js';

function harness(pullMode: boolean, window: number, available: number) {
  let remaining = available;
  const sent: number[] = [];
  const loop = new DeliveryLoop<number>({
    pullMode,
    window,
    next: () =>
      remaining > 0 ? Promise.resolve(available - remaining--) : new Promise<number | null>(() => undefined),
    send: (item) => {
      sent.push(item);
      return true;
    },
    onError: (error) => {
      throw error;
    },
  });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
  return { loop, sent, settle };
}

describe('delivery loop (docs/protocol.md §4.4)', () => {
  it('push: sends W, then one per ack', async () => {
    const { loop, sent, settle } = harness(false, 3, 10);
    loop.start();
    await settle();
    expect(sent).toEqual([0, 1, 2]);
    loop.onAck();
    await settle();
    expect(sent).toHaveLength(4);
    loop.onPermit(5); // ignored in push mode
    await settle();
    expect(sent).toHaveLength(4);
  });

  it('pull: nothing until a permit; permits accumulate', async () => {
    const { loop, sent, settle } = harness(true, 1000, 20);
    loop.start();
    await settle();
    expect(sent).toEqual([]);
    loop.onPermit(2);
    loop.onPermit(2);
    loop.onPermit(2);
    await settle();
    expect(sent).toHaveLength(6);
    loop.onAck(); // no credit in pull mode
    await settle();
    expect(sent).toHaveLength(6);
  });

  it('pull: permit 0 while idle still delivers one message, repaid by the next permit', async () => {
    const { loop, sent, settle } = harness(true, 1000, 20);
    loop.onPermit(0);
    await settle();
    expect(sent).toHaveLength(1);
    loop.onPermit(3);
    await settle();
    expect(sent).toHaveLength(3);
  });

  it('stop ends delivery', async () => {
    const { loop, sent, settle } = harness(false, 5, 10);
    loop.stop();
    loop.start();
    await settle();
    expect(sent).toEqual([]);
  });
});

describe('delivery loop: a connection that holds too much unsent data', () => {
  it('takes no next item until the pending send is written out, then goes on', async () => {
    let release: (open: boolean) => void = () => undefined;
    let taken = 0;
    const sent: number[] = [];
    const loop = new DeliveryLoop<number>({
      pullMode: true,
      window: 1000,
      next: () => Promise.resolve(taken++),
      // The third frame finds the socket over its bound: the loop must wait for it.
      send: (item) => {
        sent.push(item);
        return item === 2 ? new Promise<boolean>((resolve) => (release = resolve)) : true;
      },
      onError: (error) => {
        throw error;
      },
    });
    const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
    loop.onPermit(10);
    await settle();
    expect(sent).toEqual([0, 1, 2]);
    expect(taken).toBe(3);
    release(true);
    await settle();
    expect(sent).toHaveLength(10);
  });

  it('stops for good when the connection closed while it waited', async () => {
    let release: (open: boolean) => void = () => undefined;
    const sent: number[] = [];
    let taken = 0;
    const loop = new DeliveryLoop<number>({
      pullMode: false,
      window: 100,
      next: () => Promise.resolve(taken++),
      send: (item) => {
        sent.push(item);
        return item === 0 ? new Promise<boolean>((resolve) => (release = resolve)) : true;
      },
      onError: (error) => {
        throw error;
      },
    });
    loop.start();
    await new Promise((resolve) => setTimeout(resolve, 5));
    release(false);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(sent).toEqual([0]);
    expect(taken).toBe(1);
  });
});

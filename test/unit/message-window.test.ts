/**
 * The window that bounds messages in flight for the webhook and `/publish`: never more taken than
 * its size, waiters served in order of arrival, an aborted wait takes nothing; and an NDJSON body
 * checked whole and then made into messages one at a time.
 */
import { describe, expect, it } from 'vitest';
import { HttpRefusal } from '../../src/connectors/http-replies.js';
import { MessageWindow } from '../../src/connectors/message-window.js';
import { messagesOfRequest } from '../../src/connectors/request-messages.js';

describe('MessageWindow', () => {
  it('takes up to its size, then serves waiters first come first served as room is given back', async () => {
    const window = new MessageWindow(2);
    const signal = new AbortController().signal;
    expect([window.tryTake(), window.tryTake(), window.tryTake()]).toEqual([true, true, false]);
    const order: string[] = [];
    const first = window.take(signal).then(() => order.push('first'));
    const second = window.take(signal).then(() => order.push('second'));
    // Someone waits: a newcomer does not jump the queue even when room comes back.
    window.give();
    expect(window.tryTake()).toBe(false);
    await first;
    expect(order).toEqual(['first']);
    window.give();
    await second;
    expect(order).toEqual(['first', 'second']);
    expect(window.inFlight).toBe(2);
  });

  it('an aborted wait rejects with the reason and takes nothing', async () => {
    const window = new MessageWindow(1);
    expect(window.tryTake()).toBe(true);
    const controller = new AbortController();
    const waiting = window.take(controller.signal);
    controller.abort(new HttpRefusal(503, 'gone'));
    await expect(waiting).rejects.toThrow('gone');
    window.give();
    expect(window.inFlight).toBe(0);
    expect(window.tryTake()).toBe(true);
  });

  it('refuses a size that is not a positive integer, naming the option', () => {
    expect(() => new MessageWindow(0, 'maxMessagesInFlight')).toThrow(
      'expected `maxMessagesInFlight` to be a positive integer, got 0',
    );
  });
});

describe('messagesOfRequest', () => {
  const ndjson = { 'content-type': 'application/x-ndjson; charset=utf-8' };

  it('counts the records first and makes each message only when asked, its payload a view of the body', () => {
    const body = Buffer.from('{"a":1}\r\n\n  \n[2]\n3');
    const request = messagesOfRequest({ ...ndjson, 'x-message-key': 'k' }, body, {});
    expect(request.count).toBe(3);
    const messages = request.messages();
    const next = messages.next();
    if (next.done === true) throw new Error('no first message');
    expect(next.value.payload.toString()).toBe('{"a":1}');
    expect((next.value.payload as Buffer).buffer).toBe(body.buffer);
    expect(next.value.key).toBe('k');
    expect([...messages].map((message) => message.payload.toString())).toEqual(['[2]', '3']);
  });

  it('names the first bad line; a body of blank lines or nothing is refused', () => {
    const refusal = (text: string) => {
      try {
        messagesOfRequest(ndjson, Buffer.from(text), {});
        return undefined;
      } catch (error) {
        return [(error as HttpRefusal).status, (error as HttpRefusal).message];
      }
    };
    expect(refusal('1\n2\n{x\n')).toEqual([400, expect.stringMatching(/^line 3 is not JSON/) as string]);
    expect(refusal('\n \n')).toEqual([400, 'no NDJSON line in the body']);
    expect(refusal('')).toEqual([400, 'empty body: nothing to publish']);
  });
});

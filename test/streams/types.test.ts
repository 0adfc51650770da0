/** The public API's types, checked by `tsc` in `npm run lint` (expectTypeOf is a no-op at run time). */
import type { Duplex, Readable, Writable } from 'node:stream';
import { describe, expectTypeOf, it } from 'vitest';
import {
  ackable,
  ackableTransform,
  ackingSink,
  PulsarWsClient,
  Tracked,
  type ConsumerMessage,
  type ConsumerStream,
  type ProducerAckEvent,
  type ProducerStream,
  type ReaderStream,
} from '../../src/index.js';

describe('public types', () => {
  it('streams are Node streams; messages have the documented shape', () => {
    expectTypeOf<PulsarWsClient['producer']>().returns.toEqualTypeOf<ProducerStream>();
    expectTypeOf<ProducerStream>().toExtend<Writable>();
    expectTypeOf<ConsumerStream>().toExtend<Readable>();
    expectTypeOf<ReaderStream>().toExtend<Readable>();
    expectTypeOf<ConsumerMessage['payload']>().toEqualTypeOf<Buffer>();
    expectTypeOf<ConsumerMessage['publishTime']>().toEqualTypeOf<Date>();
    expectTypeOf<ConsumerMessage['ack']>().toEqualTypeOf<() => void>();
    expectTypeOf<ProducerAckEvent['messageId']>().toEqualTypeOf<string>();
    expectTypeOf(ackingSink).returns.toEqualTypeOf<Writable>();
    expectTypeOf(ackableTransform<ConsumerMessage, string>).returns.toEqualTypeOf<Duplex>();
  });

  it('options are checked at compile time too', () => {
    expectTypeOf<Parameters<PulsarWsClient['consumer']>[2]>()
      .exclude<undefined>()
      .toHaveProperty('subscriptionType')
      .toEqualTypeOf<'Exclusive' | 'Shared' | 'Failover' | 'Key_Shared' | undefined>();
    expectTypeOf<Parameters<PulsarWsClient['consumer']>[2]>()
      .exclude<undefined>()
      .toHaveProperty('ackMode')
      .toEqualTypeOf<'after-write' | 'on-read' | 'manual' | undefined>();
  });

  it('ackable keeps the value type through Tracked', () => {
    const step = ackable((message: ConsumerMessage) => message.payload.length);
    expectTypeOf(step).parameter(0).toEqualTypeOf<Tracked<ConsumerMessage> | ConsumerMessage>();
    expectTypeOf(new Tracked('x', () => undefined).value).toEqualTypeOf<string>();
  });
});

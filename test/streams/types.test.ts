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
  type EffectivelyOnceProducerStream,
  type ProducerAckEvent,
  type ProducerStream,
  type ReaderStream,
  type SessionState,
  type PulsarWsError,
  settlementOf,
  type Settlement,
  type WriteReceipt,
} from '../../src/index.js';

describe('public types', () => {
  it('streams are Node streams; messages have the documented shape', () => {
    // Type-checked only: never called (a producer connects).
    const _producers = (client: PulsarWsClient): void => {
      expectTypeOf(client.producer('t')).toEqualTypeOf<ProducerStream>();
      expectTypeOf(
        client.producer('t', { effectivelyOnce: true, producerName: 'p', initialSequenceId: -1 }),
      ).toEqualTypeOf<EffectivelyOnceProducerStream>();
    };
    expectTypeOf<EffectivelyOnceProducerStream>().toExtend<Writable>();
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

  it("events are typed: 'state', 'ack', 'data', and Node's own events still work", () => {
    const client = new PulsarWsClient({ url: 'ws://localhost:1' });
    const producer = client.producer('t');
    const consumer = client.consumer('t', 's');
    const reader = client.reader('t');
    producer.on('ack', (ack) => expectTypeOf(ack).toEqualTypeOf<ProducerAckEvent>());
    producer.once('state', (state, error) => {
      expectTypeOf(state).toEqualTypeOf<SessionState>();
      expectTypeOf(error).toEqualTypeOf<PulsarWsError | undefined>();
    });
    producer.on('drain', () => undefined);
    producer.on('error', (error) => expectTypeOf(error).toEqualTypeOf<Error>());
    consumer.on('data', (message) => expectTypeOf(message).toEqualTypeOf<ConsumerMessage>());
    consumer.on('state', (state) => expectTypeOf(state).toEqualTypeOf<SessionState>());
    reader.off('data', (message) => expectTypeOf(message).toEqualTypeOf<ConsumerMessage>());
    // Event names outside the map keep Node's untyped fallback.
    consumer.on('custom-event', (...args) => expectTypeOf(args).toEqualTypeOf<any[]>()); // eslint-disable-line @typescript-eslint/no-explicit-any
    // @ts-expect-error an 'ack' listener gets a ProducerAckEvent, not a string
    producer.on('ack', (ack: string) => ack);
    producer.destroy();
    consumer.destroy();
    reader.destroy();
  });

  it('for await over a consumer or a reader yields ConsumerMessage without a cast', () => {
    // Type-checked only: never called.
    const _iterate = async (consumer: ConsumerStream, reader: ReaderStream): Promise<void> => {
      for await (const message of consumer) expectTypeOf(message).toEqualTypeOf<ConsumerMessage>();
      for await (const message of reader) expectTypeOf(message).toEqualTypeOf<ConsumerMessage>();
    };
    expectTypeOf<ReaderStream['toArray']>().returns.resolves.toEqualTypeOf<ConsumerMessage[]>();
  });

  it('the ack contract for custom sinks is exported', () => {
    expectTypeOf(settlementOf<string>).returns.toEqualTypeOf<Settlement<string>>();
    expectTypeOf<Settlement<string>['written']>().parameters.toEqualTypeOf<[receipt?: WriteReceipt]>();
  });
});

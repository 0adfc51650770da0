/**
 * Typed events of the streams, added to the classes by declaration merging so the stream classes
 * themselves stay as they are. `stream.on('state', (state, error) => …)` and `producer.on('ack', …)`
 * get their argument types, `for await (const message of consumer)` yields `ConsumerMessage`, and any
 * other event name still falls through to Node's own untyped signature.
 */
import type { Readable } from 'node:stream';
import type { SessionState } from '../client/session.js';
import type { PulsarWsError } from '../errors.js';
import type { ConsumerMessage } from './consumer-message.js';
import type { ProducerAckEvent } from './producer-stream.js';

/** `'state'`: a session state change, with the error that caused it when there is one. */
export type StateEventArgs = [state: SessionState, error?: PulsarWsError];

/** The events of a `ProducerStream` (a `Writable`). */
export interface ProducerStreamEvents {
  state: StateEventArgs;
  /** The broker acknowledged one message. */
  ack: [ack: ProducerAckEvent];
  close: [];
  drain: [];
  error: [error: Error];
  finish: [];
  pipe: [source: Readable];
  unpipe: [source: Readable];
}

/** The events of a `ConsumerStream` or `ReaderStream` (a `Readable` of messages). */
export interface MessageStreamEvents {
  state: StateEventArgs;
  data: [message: ConsumerMessage];
  close: [];
  end: [];
  error: [error: Error];
  pause: [];
  readable: [];
  resume: [];
}

type Listener<Args extends unknown[]> = (...args: Args) => void;
// Node's own untyped signature, as @types/node keeps it for its events too (so `once('close', resolve)`
// still compiles), but not for this project's own events: a mistyped 'state' or 'ack' listener is an
// error instead of falling through to it.
type AnyListener = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
type Other<E> = E extends 'state' | 'ack' ? never : E;

declare module './producer-stream.js' {
  interface ProducerStream {
    on<E extends keyof ProducerStreamEvents>(event: E, listener: Listener<ProducerStreamEvents[E]>): this;
    on<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    once<E extends keyof ProducerStreamEvents>(event: E, listener: Listener<ProducerStreamEvents[E]>): this;
    once<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    off<E extends keyof ProducerStreamEvents>(event: E, listener: Listener<ProducerStreamEvents[E]>): this;
    off<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    addListener<E extends keyof ProducerStreamEvents>(
      event: E,
      listener: Listener<ProducerStreamEvents[E]>,
    ): this;
    addListener<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    removeListener<E extends keyof ProducerStreamEvents>(
      event: E,
      listener: Listener<ProducerStreamEvents[E]>,
    ): this;
    removeListener<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
  }
}

declare module './effectively-once-producer.js' {
  interface EffectivelyOnceProducerStream {
    on<E extends keyof ProducerStreamEvents>(event: E, listener: Listener<ProducerStreamEvents[E]>): this;
    on<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    once<E extends keyof ProducerStreamEvents>(event: E, listener: Listener<ProducerStreamEvents[E]>): this;
    once<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    off<E extends keyof ProducerStreamEvents>(event: E, listener: Listener<ProducerStreamEvents[E]>): this;
    off<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    addListener<E extends keyof ProducerStreamEvents>(
      event: E,
      listener: Listener<ProducerStreamEvents[E]>,
    ): this;
    addListener<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    removeListener<E extends keyof ProducerStreamEvents>(
      event: E,
      listener: Listener<ProducerStreamEvents[E]>,
    ): this;
    removeListener<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
  }
}

declare module './consumer-stream.js' {
  interface ConsumerStream {
    on<E extends keyof MessageStreamEvents>(event: E, listener: Listener<MessageStreamEvents[E]>): this;
    on<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    once<E extends keyof MessageStreamEvents>(event: E, listener: Listener<MessageStreamEvents[E]>): this;
    once<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    off<E extends keyof MessageStreamEvents>(event: E, listener: Listener<MessageStreamEvents[E]>): this;
    off<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    addListener<E extends keyof MessageStreamEvents>(
      event: E,
      listener: Listener<MessageStreamEvents[E]>,
    ): this;
    addListener<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    removeListener<E extends keyof MessageStreamEvents>(
      event: E,
      listener: Listener<MessageStreamEvents[E]>,
    ): this;
    removeListener<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    [Symbol.asyncIterator](): NodeJS.AsyncIterator<ConsumerMessage>;
    toArray(options?: Parameters<Readable['toArray']>[0]): Promise<ConsumerMessage[]>;
  }
}

declare module './reader-stream.js' {
  interface ReaderStream {
    on<E extends keyof MessageStreamEvents>(event: E, listener: Listener<MessageStreamEvents[E]>): this;
    on<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    once<E extends keyof MessageStreamEvents>(event: E, listener: Listener<MessageStreamEvents[E]>): this;
    once<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    off<E extends keyof MessageStreamEvents>(event: E, listener: Listener<MessageStreamEvents[E]>): this;
    off<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    addListener<E extends keyof MessageStreamEvents>(
      event: E,
      listener: Listener<MessageStreamEvents[E]>,
    ): this;
    addListener<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    removeListener<E extends keyof MessageStreamEvents>(
      event: E,
      listener: Listener<MessageStreamEvents[E]>,
    ): this;
    removeListener<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    [Symbol.asyncIterator](): NodeJS.AsyncIterator<ConsumerMessage>;
    toArray(options?: Parameters<Readable['toArray']>[0]): Promise<ConsumerMessage[]>;
  }
}

/** The events of a `MultiTopicConsumerStream`: as a consumer's, with the topic whose session changed state. */
export interface MultiTopicStreamEvents extends Omit<MessageStreamEvents, 'state'> {
  state: [state: SessionState, error: PulsarWsError | undefined, topic: string];
}

declare module './multi-topic-consumer.js' {
  interface MultiTopicConsumerStream {
    on<E extends keyof MultiTopicStreamEvents>(event: E, listener: Listener<MultiTopicStreamEvents[E]>): this;
    on<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    once<E extends keyof MultiTopicStreamEvents>(
      event: E,
      listener: Listener<MultiTopicStreamEvents[E]>,
    ): this;
    once<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    off<E extends keyof MultiTopicStreamEvents>(
      event: E,
      listener: Listener<MultiTopicStreamEvents[E]>,
    ): this;
    off<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    addListener<E extends keyof MultiTopicStreamEvents>(
      event: E,
      listener: Listener<MultiTopicStreamEvents[E]>,
    ): this;
    addListener<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    removeListener<E extends keyof MultiTopicStreamEvents>(
      event: E,
      listener: Listener<MultiTopicStreamEvents[E]>,
    ): this;
    removeListener<E extends string | symbol>(event: Other<E>, listener: AnyListener): this;
    [Symbol.asyncIterator](): NodeJS.AsyncIterator<ConsumerMessage>;
    toArray(options?: Parameters<Readable['toArray']>[0]): Promise<ConsumerMessage[]>;
  }
}

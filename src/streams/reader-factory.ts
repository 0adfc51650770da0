/**
 * Makes the client's reader streams: a `ReaderStream` over the sessions `readerParts` plans (one on
 * the topic, or one per partition; see reader-parts.ts).
 */
import { readerUrl, resolveTopic, type ReaderParamOptions } from '../client/endpoints.js';
import type { ClientContext, StreamLifecycleOptions } from './client-options.js';
import { checkKnown } from './known-options.js';
import { checkReaderStart, readerParts, type ReaderStart } from './reader-parts.js';
import { ReaderStream, resolveReaderHighWaterMark } from './reader-stream.js';

export interface ReaderOptions extends ReaderParamOptions, StreamLifecycleOptions {
  /**
   * 'earliest', 'latest', a message id, or a list of message ids (one per partition). A message id
   * names its partition: on a partitioned topic that partition starts after it, and partitions no
   * id names start at earliest. @default 'latest' (Pulsar's default)
   */
  readonly startMessageId?: ReaderStart;
  /** Messages buffered plus in transit, 1 to 1000. @default 100 */
  readonly highWaterMark?: number;
  /**
   * End the stream at the topic's last message as of the start (found through the admin API on the
   * service's host); on a partitioned topic, once every partition reached its own. @default false
   */
  readonly stopAtEnd?: boolean;
}

/**
 * The reader stream `client.reader(topic, options)` returns, checked and not yet tracked by the
 * client (`signal` is the client's to apply).
 */
export function openReader(context: ClientContext, topic: string, options: ReaderOptions): ReaderStream {
  checkKnown('reader', options);
  const name = resolveTopic(topic);
  const { startMessageId = 'latest', highWaterMark, stopAtEnd = false, signal: _signal, ...params } = options;
  const receiverQueueSize = resolveReaderHighWaterMark(highWaterMark);
  checkReaderStart(context.serviceUrl, name, startMessageId);
  // Builds a URL once so that bad parameters fail now, not when the first session opens.
  readerUrl(context.serviceUrl, name, 'latest', { ...params, receiverQueueSize });
  const open = readerParts(
    {
      serviceUrl: context.serviceUrl,
      admin: context.admin,
      params,
      highWaterMark: receiverQueueSize,
      stopAtEnd,
      session: (part, url) => context.session('reader', part.fullName, url),
    },
    name,
    startMessageId,
  );
  return new ReaderStream(open);
}

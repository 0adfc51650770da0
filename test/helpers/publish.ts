/** Publishing helpers for tests that need data on a topic. */
import { producerUrl, type Target } from './target.js';
import { base64, TestSocket } from './ws-client.js';

export interface PublishedMessage {
  readonly payload: string;
  readonly messageId: string;
}

export interface PublishOptions {
  readonly key?: (index: number) => string;
  readonly properties?: (index: number) => Record<string, string>;
  readonly eventTime?: string;
}

/** Publishes `payloads` pipelined on one producer socket and returns them with their acked ids, in order. */
export async function publishAll(
  target: Target,
  topic: string,
  payloads: readonly string[],
  options: PublishOptions = {},
): Promise<PublishedMessage[]> {
  const socket = await TestSocket.open(producerUrl(target, topic));
  try {
    payloads.forEach((payload, index) => {
      socket.send({
        payload: base64(payload),
        context: String(index),
        ...(options.key === undefined ? {} : { key: options.key(index) }),
        ...(options.properties === undefined ? {} : { properties: options.properties(index) }),
        ...(options.eventTime === undefined ? {} : { eventTime: options.eventTime }),
      });
    });
    const published: PublishedMessage[] = [];
    // Acks of a partitioned topic may come out of order: count them, the array fills sparsely.
    for (let acked = 0; acked < payloads.length; acked++) {
      const ack = await socket.next<{
        result: string;
        context?: string;
        messageId?: string;
        errorMsg?: string;
      }>();
      if (ack.result !== 'ok' || ack.messageId === undefined)
        throw new Error(`publish failed: ${JSON.stringify(ack)}`);
      const index = Number(ack.context);
      published[index] = { payload: payloads[index] ?? '', messageId: ack.messageId };
    }
    return published;
  } finally {
    await socket.close();
  }
}

export function range(count: number, prefix = 'm'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

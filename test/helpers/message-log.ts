/** What the topic log's tests share: a logger whose lines they read, stored messages, a log read back. */
import { pino, type Logger } from 'pino';
import type { MessageLog } from '../../src/broker/storage/message-log.js';
import type { StoredMessage } from '../../src/broker/storage/record-codec.js';

/** A logger whose lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  let text = '';
  const logger = pino({ level: 'debug' }, { write: (line: string) => void (text += line) });
  return {
    logger,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** A message to append, its payload `text`. */
export function storedMessage(text: string): StoredMessage {
  return { payload: Buffer.from(text), properties: {}, publishTime: 1, producerName: 'p', sequenceId: 0 };
}

/** Every payload the log holds, in order, as text. */
export async function logPayloads(log: MessageLog): Promise<string[]> {
  const texts: string[] = [];
  for (let ordinal = log.firstOrdinal; ordinal < log.length; ordinal++) {
    texts.push((await log.read(ordinal)).message.payload.toString());
  }
  return texts;
}

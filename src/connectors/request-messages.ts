/**
 * An HTTP request body as producer messages, as the webhook source and the sidecar's publish
 * endpoint read it: a raw body is one message; `application/x-ndjson` is one message per non-empty
 * line (each must be JSON); the key and properties come from headers. And the ids the broker gives
 * them, which both answer with.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ProducerMessageObject } from '../streams/producer-message.js';
import { Tracked } from '../streams/tracked.js';

export interface RequestHeaderNames {
  /** @default 'x-message-key' */
  readonly keyHeader?: string;
  /** Headers `<prefix>name` become property `name`. @default 'x-property-' */
  readonly propertyHeaderPrefix?: string;
}

/** @throws the error `refuse(400, reason)` makes, for an empty body or a line that is not JSON. */
export function messagesOfRequest(
  headers: IncomingHttpHeaders,
  body: Buffer,
  names: RequestHeaderNames,
  refuse: (status: 400, reason: string) => Error,
): ProducerMessageObject[] {
  if (body.length === 0) throw refuse(400, 'empty body: nothing to publish');
  const prefix = names.propertyHeaderPrefix ?? 'x-property-';
  const key = headers[names.keyHeader ?? 'x-message-key'];
  const properties: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(prefix) && typeof value === 'string') properties[name.slice(prefix.length)] = value;
  }
  const decorate = (payload: Buffer): ProducerMessageObject => ({
    payload,
    ...(typeof key === 'string' ? { key } : {}),
    ...(Object.keys(properties).length === 0 ? {} : { properties }),
  });
  const type = (headers['content-type'] ?? '').split(';')[0]?.trim();
  if (type !== 'application/x-ndjson') return [decorate(body)];
  const messages: ProducerMessageObject[] = [];
  body
    .toString('utf8')
    .split('\n')
    .forEach((line, index) => {
      if (line.trim() === '') return;
      try {
        JSON.parse(line);
      } catch (error) {
        throw refuse(400, `line ${index + 1} is not JSON: ${(error as Error).message}`);
      }
      messages.push(decorate(Buffer.from(line)));
    });
  if (messages.length === 0) throw refuse(400, 'no NDJSON line in the body');
  return messages;
}

/**
 * Hands each message to `write` as a `Tracked` value and resolves with the ids the broker assigned,
 * in the request's order, once every one of them is stored.
 */
export function storedIds(
  messages: readonly ProducerMessageObject[],
  write: (message: Tracked<ProducerMessageObject>) => void,
): Promise<string[]> {
  return Promise.all(
    messages.map(
      (message) =>
        new Promise<string>((resolve) =>
          write(new Tracked(message, (receipt) => resolve(receipt?.messageId ?? ''))),
        ),
    ),
  );
}

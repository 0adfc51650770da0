/**
 * What a refused WebSocket handshake says: the HTTP status and the reason in its body (Pulsar's Jetty
 * error page title, or the start of a proxy's page), read up to a bound, as a typed error.
 */
import type { IncomingMessage } from 'node:http';
import { handshakeError, type PulsarWsError } from '../errors.js';

/** How much of a refused handshake's body is read for its error message. */
const MAX_REFUSAL_BODY_BYTES = 16 * 1024;

/** Resolves with the refusal's error once the body ended, failed, or reached the bound. */
export function readRefusal(response: IncomingMessage, endpoint: string): Promise<PulsarWsError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const refused = (): void => {
      const body = Buffer.concat(chunks).toString('utf8');
      const title = /<title>(?:Error \d+ )?(.*?)<\/title>/s.exec(body)?.[1] ?? body.slice(0, 200);
      resolve(handshakeError(response.statusCode ?? 0, title.trim(), endpoint));
    };
    response.on('data', (chunk: Buffer) => {
      if (length >= MAX_REFUSAL_BODY_BYTES) return;
      chunks.push(chunk);
      length += chunk.length;
      if (length >= MAX_REFUSAL_BODY_BYTES) refused();
    });
    response.once('end', refused);
    response.once('error', refused);
  });
}

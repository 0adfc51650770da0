/** Ways a session ends a WebSocket connection the way Pulsar's Jetty server does (docs/protocol.md §8.2). */
import type { RawData, WebSocket } from 'ws';
import { CloseCode } from '../../protocol/index.js';

/** Close reasons are limited to 123 bytes by RFC 6455. */
function truncateReason(reason: string): string {
  const bytes = Buffer.from(reason, 'utf8');
  return bytes.length <= 123
    ? reason
    : bytes
        .subarray(0, 123)
        .toString('utf8')
        .replace(/\uFFFD$/, '');
}

/** Pulsar's `close(3|4)`: Jetty drops the TCP connection without a close frame (client sees 1006). */
export function dropConnection(ws: WebSocket): void {
  ws.terminate();
}

/** An unhandled exception in a frame handler: close 1011 with the exception message. */
export function closeWithInternalError(ws: WebSocket, reason: string): void {
  ws.close(CloseCode.InternalError, truncateReason(reason));
}

/** Sends a text frame if the socket is still open; returns whether it was sent. */
export function sendText(ws: WebSocket, text: string): boolean {
  if (ws.readyState !== ws.OPEN) return false;
  ws.send(text);
  return true;
}

/** The text of a received frame (`ws` hands over a Buffer, or fragments). */
export function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

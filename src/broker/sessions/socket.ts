/** Ways a session ends a WebSocket connection the way Pulsar's Jetty server does (docs/protocol.md §8.2). */
import type { RawData, WebSocket } from 'ws';
import { corkForThisTick } from '../../net/write-batching.js';
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
  corkForThisTick(ws);
  ws.send(text);
  return true;
}

/**
 * Sends a text frame, then, when the socket holds more than `maxBufferedBytes` not yet handed to the
 * kernel, waits until this frame is written out: a client that reads slowly (or not at all) holds at
 * most about `maxBufferedBytes` of the broker's memory, and slows only its own deliveries. Answers
 * whether the connection is still open; a promise only when it had to wait.
 */
export function sendWithinBound(
  ws: WebSocket,
  text: string,
  maxBufferedBytes: number,
): boolean | Promise<boolean> {
  if (ws.readyState !== ws.OPEN) return false;
  // Below the bound (the usual case) the frame goes out without a callback: nothing per message.
  if (ws.bufferedAmount + Buffer.byteLength(text) <= maxBufferedBytes) {
    corkForThisTick(ws);
    ws.send(text);
    return true;
  }
  return new Promise((resolve) => {
    const onClose = (): void => resolve(false);
    ws.once('close', onClose);
    // Called once the frame is written to the socket, or with an error when the socket is gone.
    ws.send(text, (error) => {
      ws.off('close', onClose);
      resolve(error === undefined || error === null);
    });
  });
}

/** The bytes of a received frame (`ws` hands over a Buffer, or fragments). */
export function bytesOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** The text of a received frame. */
export function textOf(data: RawData): string {
  return bytesOf(data).toString('utf8');
}

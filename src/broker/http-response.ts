/**
 * HTTP answers written on a raw socket: failed WebSocket handshakes (docs/protocol.md §8.1, with the HTML shape
 * Jetty uses: the message is in `<title>Error <code> <message></title>`) and the few plain endpoints.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

const HTML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ENTITIES[ch] ?? ch);
}

export function jettyErrorPage(status: number, message: string): string {
  const safe = escapeHtml(message);
  return (
    `<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n` +
    `<title>Error ${status} ${safe}</title>\n</head>\n<body><h2>HTTP ERROR ${status} ${safe}</h2>\n</body>\n</html>\n`
  );
}

/** Rejects an upgrade request with an HTTP error and closes the socket. */
export function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const body = jettyErrorPage(status, message);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: text/html;charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

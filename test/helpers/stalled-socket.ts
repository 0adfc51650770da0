/**
 * A WebSocket client whose network stops reading right after the upgrade: the handshake is written by
 * hand on a raw TCP socket, and once the 101 has come the socket is paused and never resumed. What
 * the server sends then fills the kernel's buffers and stays on the server's side; this process holds
 * at most one read's worth (the socket's highWaterMark), so it measures the server, not itself.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface StalledSocket {
  /** Bytes read before the socket was paused (the 101 response and whatever came with it). */
  readonly bytesRead: number;
  /** Resolves when the server or `destroy` ends the connection. */
  readonly closed: Promise<void>;
  /** True once the connection has ended. */
  isClosed(): boolean;
  /** Drops the connection without a close frame, as a client that vanishes does. */
  destroy(): void;
}

/** Opens `url` (ws://host:port/path?query) and stops reading once the server has answered 101. */
export function openStalledSocket(url: string, timeoutMs = 10_000): Promise<StalledSocket> {
  const { hostname, port, pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: hostname, port: Number(port) });
    let head = Buffer.alloc(0);
    let closed = false;
    const closedPromise = new Promise<void>((resolveClosed) =>
      socket.once('close', () => {
        closed = true;
        resolveClosed();
      }),
    );
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no upgrade from ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    // A stalled socket is reset by the server or by `destroy`; its end shows through `closed`.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`connection to ${url} closed before the upgrade`));
    });
    socket.once('connect', () => {
      socket.write(
        [
          `GET ${pathname}${search} HTTP/1.1`,
          `Host: ${hostname}:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
          '',
          '',
        ].join('\r\n'),
      );
    });
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      clearTimeout(timer);
      if (!/^HTTP\/1\.1 101 /.test(statusLine)) {
        socket.destroy();
        reject(new Error(`upgrade refused: ${statusLine}`));
        return;
      }
      // From here on nothing reads: once the stream's own buffer is full, libuv stops reading.
      socket.pause();
      socket.off('data', onData);
      resolve({
        bytesRead: head.length,
        closed: closedPromise,
        isClosed: () => closed,
        destroy: () => void socket.destroy(),
      });
    };
    socket.on('data', onData);
  });
}

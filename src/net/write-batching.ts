/**
 * Frames sent in one burst leave in one `writev` instead of one system call each. `ws` writes every
 * frame to its socket at once; a delivery loop, the acks for one read's worth of publishes or a
 * producer draining its queue send hundreds of frames in one synchronous run. Corking the socket at
 * the first frame and uncorking it once the current operation is done (next tick, before any I/O)
 * batches them without adding latency. Used by the broker and the client alike.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** The TCP socket under each connection that batches its writes. */
const socketOf = new WeakMap<WebSocket, Duplex>();
const corked = new WeakSet<Duplex>();

/** Makes `ws`'s frames batch per tick from now on (`socket`: the one it was upgraded on). */
export function batchWritesOn(ws: WebSocket, socket: Duplex): void {
  socketOf.set(ws, socket);
}

function uncork(socket: Duplex): void {
  corked.delete(socket);
  socket.uncork();
}

/** Call before each `ws.send`: the first frame of a tick corks the socket, the next tick uncorks it. */
export function corkForThisTick(ws: WebSocket): void {
  const socket = socketOf.get(ws);
  if (socket === undefined || corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(uncork, socket);
}

/**
 * A TCP proxy between a client and a server that injects faults: cut every open connection (both
 * sides see the socket die mid-stream, as with a network failure), refuse new ones for a while, or
 * point at another server port (a broker that restarted elsewhere).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface FaultProxy {
  /** `ws://127.0.0.1:PORT`: use it in place of the server's URL. */
  readonly url: string;
  /** Connections cut so far. */
  readonly cuts: number;
  /** Destroys every open connection on both sides. */
  cut(): void;
  /** Sends new connections to another port on the same host. */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  let targetPort = Number(target.port);
  const open = new Set<Socket>();
  let cuts = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, target.hostname);
    open.add(client);
    open.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    url: `ws://127.0.0.1:${address.port}`,
    get cuts() {
      return cuts;
    },
    cut() {
      cuts += 1;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    retarget(port) {
      targetPort = port;
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Ports for tests that need a server address with nothing behind it. */
import { once } from 'node:events';
import { createServer } from 'node:net';

/** A loopback port with nothing listening on it (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

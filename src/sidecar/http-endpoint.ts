/**
 * The sidecar's HTTP endpoint: `GET /healthz` (the process serves), `GET /readyz` (200 when every
 * pipeline is connected and moving or idle, else 503 naming each one that is not and why),
 * `GET /metrics` (Prometheus text) and, when enabled, `POST /publish/{topic}`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SidecarMetrics } from './metrics.js';
import { replyJson, type HttpPublisher } from './publish.js';
import type { Supervisor } from './supervisor.js';

export interface HttpEndpointOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: SidecarMetrics;
  readonly supervisor: () => Supervisor;
  readonly publisher: () => HttpPublisher | undefined;
  /** True once the sidecar drains: not ready any more, whatever the pipelines say. */
  readonly draining: () => boolean;
  readonly logger: Logger;
}

export interface HttpEndpoint {
  /** e.g. `http://127.0.0.1:9464` */
  readonly url: string;
  close(): Promise<void>;
}

async function route(
  options: HttpEndpointOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost');
  const get = request.method === 'GET' || request.method === 'HEAD';
  if (pathname.startsWith('/publish/')) {
    const publisher = options.publisher();
    if (publisher === undefined) {
      request.resume();
      replyJson(response, 404, { error: 'publishing is off; enable it with http.publish: true' });
      return;
    }
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      replyJson(response, 405, { error: `${request.method} is not allowed; use POST` });
      return;
    }
    const topic = decodeURIComponent(pathname.slice('/publish/'.length));
    await publisher.handle(request, response, topic);
    return;
  }
  request.resume();
  const known = ['/healthz', '/readyz', '/metrics'];
  if (!known.includes(pathname)) {
    replyJson(response, 404, { error: `no endpoint ${pathname}; try ${known.join(', ')}` });
    return;
  }
  if (!get) {
    response.setHeader('allow', 'GET');
    replyJson(response, 405, { error: `${request.method} is not allowed; use GET` });
    return;
  }
  if (pathname === '/healthz') {
    replyJson(response, 200, { status: 'ok' });
    return;
  }
  const supervisor = options.supervisor();
  if (pathname === '/readyz') {
    const { ready, notReady } = supervisor.readiness();
    if (options.draining()) {
      replyJson(response, 503, { status: 'draining', pipelines: supervisor.status() });
      return;
    }
    if (ready) replyJson(response, 200, { status: 'ready', pipelines: supervisor.status() });
    else replyJson(response, 503, { status: 'not ready', pipelines: notReady });
    return;
  }
  supervisor.refreshGauges();
  const text = await options.metrics.registry.metrics();
  response.writeHead(200, { 'content-type': options.metrics.registry.contentType });
  response.end(text);
}

/** Listens on `host:port`. @throws the listen error (address in use, permission). */
export async function startHttpEndpoint(options: HttpEndpointOptions): Promise<HttpEndpoint> {
  const server = createServer((request, response) => {
    route(options, request, response).catch((error: unknown) => {
      options.logger.error({ err: error, url: request.url }, 'http request failed');
      replyJson(response, 500, { error: (error as Error).message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // A scrape or probe still running gets a moment, not a say over when the process exits.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      }),
  };
}

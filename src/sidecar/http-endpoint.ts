/**
 * The sidecar's HTTP endpoint: `GET /healthz` (the process serves), `GET /readyz` (200 when every
 * pipeline is connected and moving or idle, else 503 naming each one that is not and why),
 * `GET /metrics` (Prometheus text) and, when enabled, `POST /publish/{topic}` — here, or on a
 * listener of its own (`publish.listen`) that serves nothing else, so that exposing the metrics to
 * Prometheus does not expose publishing.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SidecarMetrics } from './metrics.js';
import { replyJson } from '../connectors/http-replies.js';
import { boundRequestTimes, DEFAULT_BODY_TIMEOUT_MS } from '../connectors/http-timeouts.js';
import type { HttpPublisher } from './publish.js';
import type { Supervisor } from './supervisor.js';

export interface HttpEndpointOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: SidecarMetrics;
  readonly supervisor: () => Supervisor;
  /** The publisher, when `POST /publish` is served on this listener. */
  readonly publisher: () => HttpPublisher | undefined;
  /** True when publishing is on but has a listener of its own (`publish.listen`). */
  readonly publishElsewhere?: boolean;
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
      const error = options.publishElsewhere
        ? 'POST /publish is served on its own listener (publish.listen), not here'
        : 'publishing is off; enable it with publish.enabled: true';
      replyJson(response, 404, { error }, undefined, { connection: 'close' });
      return;
    }
    // Still %-encoded: a bad escape is the publisher's 400.
    await publisher.handle(request, response, pathname.slice('/publish/'.length));
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

type Handler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/**
 * Serves `handler` on `host:port`, with Node's request timeouts set around the time a `/publish`
 * body may take (`bodyTimeoutMs`). @throws the listen error (address in use, permission).
 */
async function serve(
  host: string,
  port: number,
  handler: Handler,
  logger: Logger,
  bodyTimeoutMs: number,
): Promise<HttpEndpoint> {
  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    handler(request, response).catch((error: unknown) => {
      logger.error({ err: error, url: request.url }, 'http request failed');
      replyJson(response, 500, { error: (error as Error).message });
    });
  };
  const server = createServer(onRequest);
  boundRequestTimes(server, bodyTimeoutMs);
  // `/publish` says `100 Continue` itself once a request is admitted (Node would say it at once).
  server.on('checkContinue', onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // A scrape or probe still running gets a moment, not a say over when the process exits.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      }),
  };
}

/** The health, readiness and metrics endpoint (and `/publish`, unless it has its own listener). */
export function startHttpEndpoint(options: HttpEndpointOptions): Promise<HttpEndpoint> {
  return serve(
    options.host,
    options.port,
    (request, response) => route(options, request, response),
    options.logger,
    options.publisher()?.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
  );
}

/** `POST /publish/{topic}` on a listener of its own (`publish.listen`): every other path is 404. */
export function startPublishEndpoint(
  host: string,
  port: number,
  publisher: HttpPublisher,
  logger: Logger,
): Promise<HttpEndpoint> {
  return serve(
    host,
    port,
    async (request, response) => {
      const { pathname } = new URL(request.url ?? '/', 'http://localhost');
      if (!pathname.startsWith('/publish/')) {
        replyJson(response, 404, { error: 'this listener serves POST /publish/{topic} only' }, undefined, {
          connection: 'close',
        });
        return;
      }
      await publisher.handle(request, response, pathname.slice('/publish/'.length));
    },
    logger,
    publisher.bodyTimeoutMs,
  );
}

/**
 * The small admin REST surface of the embedded broker, on Pulsar's paths: broker health, tenants and
 * namespaces. Errors are JSON `{"reason": "..."}` with Pulsar's statuses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AlreadyExistsError, TenantNotFoundError, type NamespaceRegistry } from './namespaces.js';

type Handler = (
  params: string[],
) => Promise<{ status: number; body?: unknown }> | { status: number; body?: unknown };

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: Handler;
}

const NAME = '([-=:.\\w]+)';

export class AdminApi {
  private readonly routes: Route[];

  constructor(
    private readonly namespaces: NamespaceRegistry,
    private readonly logger: Logger,
  ) {
    this.routes = [
      {
        method: 'GET',
        pattern: /^\/admin\/v2\/brokers\/health$/,
        handler: () => ({ status: 200, body: 'ok' }),
      },
      {
        method: 'GET',
        pattern: /^\/admin\/v2\/tenants$/,
        handler: () => ({ status: 200, body: namespaces.listTenants() }),
      },
      {
        method: 'PUT',
        pattern: new RegExp(`^/admin/v2/tenants/${NAME}$`),
        handler: async ([tenant = '']) => {
          await namespaces.createTenant(tenant);
          return { status: 204 };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/admin/v2/namespaces/${NAME}$`),
        handler: ([tenant = '']) => ({ status: 200, body: namespaces.listNamespaces(tenant) }),
      },
      {
        method: 'PUT',
        pattern: new RegExp(`^/admin/v2/namespaces/${NAME}/${NAME}$`),
        handler: async ([tenant = '', namespace = '']) => {
          await namespaces.createNamespace(tenant, namespace);
          return { status: 204 };
        },
      },
      {
        // v1 (cluster-scoped) namespaces: Pulsar serves v1 topics without checking them, and so do we.
        method: 'PUT',
        pattern: new RegExp(`^/admin/namespaces/${NAME}/${NAME}/${NAME}$`),
        handler: () => ({ status: 204 }),
      },
    ];
  }

  /** Answers the request; false when no route matches the path (the caller answers 404). */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    for (const route of this.routes) {
      const match = route.pattern.exec(path);
      if (match === null) continue;
      if (request.method !== route.method) continue;
      // Request bodies (tenant info, policies) are accepted and not interpreted; drain them.
      request.resume();
      Promise.resolve()
        .then(() => route.handler(match.slice(1)))
        .then(
          ({ status, body }) => send(response, status, body),
          (error: unknown) => {
            const status =
              error instanceof TenantNotFoundError ? 404 : error instanceof AlreadyExistsError ? 409 : 500;
            if (status === 500) this.logger.error({ err: error, path }, 'admin request failed');
            send(response, status, { reason: (error as Error).message });
          },
        );
      return true;
    }
    return false;
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (body === undefined) {
    response.writeHead(status).end();
  } else if (typeof body === 'string') {
    response.writeHead(status, { 'Content-Type': 'text/plain' }).end(body);
  } else {
    response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  }
}

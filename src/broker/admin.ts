/**
 * The small admin REST surface of the embedded broker, on Pulsar's paths: broker health, tenants,
 * namespaces and namespace permissions, topics (the listings of a namespace are in admin-routes.ts).
 * Errors are JSON `{"reason": "..."}` with Pulsar's statuses. With auth enabled every admin call needs
 * a super-user token, except a namespace's topic listings, which a role granted consume there may
 * call too (Pulsar's GET_TOPICS operation). Statuses as Pulsar 4.0.7 answers them: no valid token
 * 401, a listing by a role without the grant 403 (a namespace operation), any other call by a role
 * that is not a super-user 401.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AuthenticationError, type BrokerAuth } from './auth/index.js';
import { clientMessage } from './client-message.js';
import type { NamespaceRegistry } from './namespaces.js';
import {
  formDecode,
  parseTopicName,
  topicNameOf,
  TopicNameError,
  type TopicName,
} from '../protocol/index.js';
import { AdminRequestError, readBody, send, statusOf } from './admin-replies.js';
import { NAME, namespaceTopicRoutes, type Route } from './admin-routes.js';
import { checkRetentionPolicy } from './storage/retention.js';
import { TopicNotFoundError, type TopicRegistry } from './topics/topic-registry.js';

/** A percent-encoded path segment (a topic's local name). */
const SEGMENT = '([^/]+)';

export class AdminApi {
  private readonly routes: Route[];

  constructor(
    private readonly namespaces: NamespaceRegistry,
    private readonly topics: TopicRegistry,
    private readonly auth: BrokerAuth | undefined,
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
        method: 'GET',
        pattern: new RegExp(`^/admin/v2/namespaces/${NAME}/${NAME}/permissions$`),
        handler: ([tenant = '', namespace = '']) => ({
          status: 200,
          body: this.requireAuth().permissions.list(`${tenant}/${namespace}`),
        }),
      },
      {
        method: 'POST',
        pattern: new RegExp(`^/admin/v2/namespaces/${NAME}/${NAME}/permissions/${NAME}$`),
        handler: async ([tenant = '', namespace = '', role = ''], body) => {
          let actions: unknown;
          try {
            actions = JSON.parse(body);
          } catch {
            throw new AdminRequestError(400, 'expected a JSON array of actions, e.g. ["produce","consume"]');
          }
          await this.requireAuth().permissions.grant(`${tenant}/${namespace}`, role, actions);
          return { status: 204 };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/admin/v2/namespaces/${NAME}/${NAME}/deduplication$`),
        handler: ([tenant = '', namespace = '']) => {
          this.requireNamespace(tenant, namespace);
          const policy = namespaces.deduplicationOf(`${tenant}/${namespace}`);
          return policy === undefined ? { status: 204 } : { status: 200, body: policy };
        },
      },
      {
        method: 'POST',
        pattern: new RegExp(`^/admin/v2/namespaces/${NAME}/${NAME}/deduplication$`),
        handler: async ([tenant = '', namespace = ''], body) => {
          const enabled = body.trim();
          if (enabled !== 'true' && enabled !== 'false') {
            throw new AdminRequestError(
              400,
              `expected true or false, got ${JSON.stringify(body.slice(0, 40))}`,
            );
          }
          this.requireNamespace(tenant, namespace);
          await namespaces.setDeduplication(`${tenant}/${namespace}`, enabled === 'true');
          return { status: 204 };
        },
      },
      {
        method: 'DELETE',
        pattern: new RegExp(`^/admin/v2/namespaces/${NAME}/${NAME}/deduplication$`),
        handler: async ([tenant = '', namespace = '']) => {
          this.requireNamespace(tenant, namespace);
          await namespaces.setDeduplication(`${tenant}/${namespace}`, undefined);
          return { status: 204 };
        },
      },
      ...this.retentionRoutes(),
      ...namespaceTopicRoutes(topics, (tenant, namespace) => this.requireNamespace(tenant, namespace)),
      {
        method: 'PUT',
        pattern: new RegExp(`^/admin/v2/persistent/${NAME}/${NAME}/${SEGMENT}$`),
        handler: async (params) => {
          const name = this.topicOf(params);
          if (await topics.exists(name)) throw new AdminRequestError(409, 'This topic already exists');
          await topics.get(name, true);
          return { status: 204 };
        },
      },
      {
        method: 'DELETE',
        pattern: new RegExp(`^/admin/v2/persistent/${NAME}/${NAME}/${SEGMENT}$`),
        handler: async (params) => {
          await topics.delete(this.topicOf(params));
          return { status: 204 };
        },
      },
      {
        method: 'PUT',
        pattern: new RegExp(`^/admin/v2/persistent/${NAME}/${NAME}/${SEGMENT}/partitions$`),
        handler: async (params, body) => {
          const partitions = Number(body.trim());
          if (!Number.isSafeInteger(partitions) || partitions < 1) {
            throw new AdminRequestError(
              412,
              `Number of partitions should be more than 0, got ${body.slice(0, 40)}`,
            );
          }
          await topics.createPartitioned(this.topicOf(params), partitions);
          return { status: 204 };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/admin/v2/persistent/${NAME}/${NAME}/${SEGMENT}/partitions$`),
        handler: async (params) => ({
          status: 200,
          body: { partitions: await this.partitionCountOf(this.topicOf(params)) },
        }),
      },
      {
        method: 'POST',
        pattern: new RegExp(`^/admin/v2/persistent/${NAME}/${NAME}/${SEGMENT}/terminate$`),
        handler: async (params) => {
          const topic = await this.existingTopic(params);
          const last = await topic.terminate();
          return { status: 200, body: { ...last, partitionIndex: -1, batchIndex: -1, batchSize: 0 } };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/admin/v2/persistent/${NAME}/${NAME}/${SEGMENT}/lastMessageId$`),
        handler: async (params) => {
          const name = this.topicOf(params);
          // Pulsar 4.0 answers a partitioned topic's base name as an unknown topic.
          if (topics.partitionsOf(name) > 0) throw new TopicNotFoundError(`Topic ${name.fullName} not found`);
          const last = await (await this.existingTopic(params)).lastMessageId();
          // A partition's id names it (Pulsar's `partitionIndex`); -1 for a non-partitioned topic.
          const partitionIndex = name.partitionIndex;
          return { status: 200, body: { ...last, partitionIndex, batchIndex: -1, batchSize: 0 } };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/admin/v2/persistent/${NAME}/${NAME}/${SEGMENT}/stats$`),
        handler: async (params) => ({ status: 200, body: await (await this.existingTopic(params)).stats() }),
      },
      {
        // v1 (cluster-scoped) namespaces: Pulsar serves v1 topics without checking them, and so do we.
        method: 'PUT',
        pattern: new RegExp(`^/admin/namespaces/${NAME}/${NAME}/${NAME}$`),
        handler: () => ({ status: 204 }),
      },
    ];
  }

  /** Namespace retention, on Pulsar's paths and with its JSON (`RetentionPolicies`). */
  private retentionRoutes(): Route[] {
    const path = new RegExp(`^/admin/v2/namespaces/${NAME}/${NAME}/retention$`);
    return [
      {
        method: 'GET',
        pattern: path,
        handler: ([tenant = '', namespace = '']) => {
          this.requireNamespace(tenant, namespace);
          const policy = this.namespaces.retentionOf(`${tenant}/${namespace}`);
          // Pulsar 4.0 answers 200 with an empty body (null) when the namespace has no policy.
          return policy === undefined ? { status: 200 } : { status: 200, body: policy };
        },
      },
      {
        method: 'POST',
        pattern: path,
        handler: async ([tenant = '', namespace = ''], body) => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(body);
          } catch {
            throw new AdminRequestError(
              400,
              'expected a JSON object {"retentionTimeInMinutes": <int>, "retentionSizeInMB": <int>}',
            );
          }
          this.requireNamespace(tenant, namespace);
          const policy = checkRetentionPolicy(parsed);
          await this.namespaces.setRetention(`${tenant}/${namespace}`, policy);
          return { status: 204 };
        },
      },
      {
        method: 'DELETE',
        pattern: path,
        handler: async ([tenant = '', namespace = '']) => {
          this.requireNamespace(tenant, namespace);
          await this.namespaces.setRetention(`${tenant}/${namespace}`, undefined);
          return { status: 204 };
        },
      },
    ];
  }

  private requireNamespace(tenant: string, namespace: string): void {
    if (!this.namespaces.hasNamespace(`${tenant}/${namespace}`)) {
      throw new AdminRequestError(404, 'Namespace does not exist');
    }
  }

  private topicOf([tenant = '', namespace = '', local = '']: string[]): TopicName {
    this.requireNamespace(tenant, namespace);
    try {
      return topicNameOf('persistent', [tenant, namespace], formDecode(local));
    } catch (error) {
      // Pulsar's admin API answers any name its TopicName refuses so.
      if (error instanceof TopicNameError) throw new AdminRequestError(412, 'Topic name is not valid');
      throw error;
    }
  }

  /**
   * A topic's partition count, as Pulsar 4.0 answers it: the count of a partitioned topic, 0 for a
   * non-partitioned topic or a partition of a partitioned one, and 404 `Topic … not found` for a
   * name nothing was created or published under.
   */
  private async partitionCountOf(name: TopicName): Promise<number> {
    const partitions = this.topics.partitionsOf(name);
    if (partitions > 0) return partitions;
    if (name.partitionIndex >= 0) {
      // Pulsar creates a partitioned topic's partitions with it.
      const base = parseTopicName(name.fullName.replace(/-partition-\d+$/, ''));
      if (name.partitionIndex < this.topics.partitionsOf(base)) return 0;
    }
    if (await this.topics.exists(name)) return 0;
    throw new TopicNotFoundError(`Topic ${name.fullName} not found`);
  }

  private async existingTopic(params: string[]) {
    const name = this.topicOf(params);
    if (!(await this.topics.exists(name))) throw new TopicNotFoundError(`Topic ${name.fullName} not found`);
    return this.topics.get(name, false);
  }

  private requireAuth(): BrokerAuth {
    if (this.auth === undefined) {
      throw new AdminRequestError(
        501,
        'Authorization is not enabled (start the broker with a token secret key)',
      );
    }
    return this.auth;
  }

  /**
   * With auth on, only a super-user may call the admin API (Pulsar answers 401 otherwise); a topic
   * listing also a role granted consume on its namespace (`namespace`), Pulsar's GET_TOPICS rule,
   * which Pulsar refuses with a 403, as every namespace operation.
   */
  private async checkSuperUser(request: IncomingMessage, namespace?: string): Promise<void> {
    if (this.auth === undefined) return;
    const query = new URLSearchParams((request.url ?? '').split('?')[1] ?? '');
    let role: string;
    try {
      role = await this.auth.authenticate(request.headers, query);
    } catch (error) {
      if (error instanceof AuthenticationError) throw new AdminRequestError(401, 'Authentication required');
      throw error;
    }
    const { permissions } = this.auth;
    if (permissions.isSuperUser(role)) return;
    if (namespace !== undefined) {
      if (permissions.allows(role, namespace, 'consume')) return;
      throw new AdminRequestError(
        403,
        `Unauthorized to validateNamespaceOperation for operation [GET_TOPICS] on namespace [${namespace}]`,
      );
    }
    throw new AdminRequestError(401, `Role ${role} is not a super-user; the admin API needs one`);
  }

  /** Answers the request; false when no route matches the path (the caller answers 404). */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const route = this.routes.find(
      (candidate) => candidate.method === request.method && candidate.pattern.test(path),
    );
    if (route === undefined) return false;
    const params = route.pattern.exec(path)?.slice(1) ?? [];
    this.checkSuperUser(request, route.namespaceTopics === true ? `${params[0]}/${params[1]}` : undefined)
      .then(() => readBody(request))
      // Topics the call opens stay open until it is answered (see LoadedTopics).
      .then((body) => this.topics.withLease(async () => route.handler(params, body)))
      .then(({ result, release }) => {
        release();
        return result;
      })
      .then(
        ({ status, body }) => send(response, status, body),
        (error: unknown) => {
          const status = statusOf(error);
          if (status === 500) this.logger.error({ err: error, path }, 'admin request failed');
          send(response, status, { reason: clientMessage(error) });
        },
      );
    return true;
  }
}

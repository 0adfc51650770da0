/**
 * The route shape of the embedded broker's admin API (admin.ts), and the topic listings of a
 * namespace, which pattern consumers match their pattern against.
 */
import { parseTopicName } from '../protocol/index.js';
import type { TopicRegistry } from './topics/topic-registry.js';

export type Handler = (
  params: string[],
  body: string,
) => Promise<{ status: number; body?: unknown }> | { status: number; body?: unknown };

export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: Handler;
  /**
   * Pulsar's GET_TOPICS namespace operation: besides super-users, a role granted consume on the
   * namespace (the route's first two parameters) may call it.
   */
  readonly namespaceTopics?: true;
}

/** A tenant, namespace or role name. */
export const NAME = '([-=:.\\w]+)';

/**
 * `GET /admin/v2/persistent/{tenant}/{namespace}`: every topic, a partitioned topic as its
 * partitions (`<name>-partition-<n>`, listed from its creation on, as Pulsar creates them with it)
 * and not its base name; `…/partitioned`: the partitioned topics by base name. Both sorted.
 * `requireNamespace` throws the 404 of a namespace that does not exist.
 */
export function namespaceTopicRoutes(
  topics: TopicRegistry,
  requireNamespace: (tenant: string, namespace: string) => void,
): Route[] {
  return [
    {
      method: 'GET',
      pattern: new RegExp(`^/admin/v2/persistent/${NAME}/${NAME}$`),
      namespaceTopics: true,
      handler: async ([tenant = '', namespace = '']) => {
        requireNamespace(tenant, namespace);
        const names = new Set(await topics.list('persistent', `${tenant}/${namespace}`));
        for (const base of topics.listPartitioned('persistent', `${tenant}/${namespace}`)) {
          const count = topics.partitionsOf(parseTopicName(base));
          for (let index = 0; index < count; index++) names.add(`${base}-partition-${index}`);
        }
        return { status: 200, body: [...names].sort() };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/admin/v2/persistent/${NAME}/${NAME}/partitioned$`),
      namespaceTopics: true,
      handler: ([tenant = '', namespace = '']) => {
        requireNamespace(tenant, namespace);
        return { status: 200, body: topics.listPartitioned('persistent', `${tenant}/${namespace}`) };
      },
    },
  ];
}

/** Authentication (JWT with a secret key) and authorization (super-users, namespace grants). */
import type { IncomingHttpHeaders } from 'node:http';
import type { TopicName } from '../../protocol/index.js';
import type { AuthAction, PermissionStore } from './permissions.js';
import { tokenOf, type TokenAuthenticator } from './token-authenticator.js';

export { AuthenticationError, createToken, TokenAuthenticator, tokenOf } from './token-authenticator.js';
export {
  PermissionFileError,
  PermissionStore,
  type AuthAction,
  type PermissionGrants,
} from './permissions.js';

export class AuthorizationError extends Error {
  override readonly name = 'AuthorizationError';
}

/** The broker's auth when enabled: who a request is, and what that role may do. */
export class BrokerAuth {
  constructor(
    readonly authenticator: TokenAuthenticator,
    readonly permissions: PermissionStore,
  ) {}

  /** @throws AuthenticationError */
  authenticate(headers: IncomingHttpHeaders, query: URLSearchParams): Promise<string> {
    return this.authenticator.authenticate(tokenOf(headers, query));
  }

  /** @throws AuthorizationError when `role` may not do `action` on the topic's namespace. */
  authorize(role: string, topic: TopicName, action: AuthAction): void {
    const namespace = [topic.tenant, topic.cluster, topic.namespace]
      .filter((part) => part !== undefined)
      .join('/');
    if (!this.permissions.allows(role, namespace, action)) throw new AuthorizationError('Not authorized');
  }
}

/** The embedded broker: a Pulsar WebSocket API server with on-disk storage, for Java-free dev and tests. */
export { EmbeddedBroker } from './server.js';
export { BrokerOptionError, resolveBrokerOptions, type EmbeddedBrokerOptions } from './options.js';
export { DataDirLockedError } from './storage/data-dir-lock.js';
export {
  AuthenticationError,
  createToken,
  PermissionFileError,
  type PermissionGrants,
} from './auth/index.js';

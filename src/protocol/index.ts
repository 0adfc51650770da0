/**
 * The Pulsar WebSocket protocol as pure code: topic names, endpoint paths, query parameters, JSON
 * frames, message ids, codes. Shared by the embedded broker and the client; performs no I/O.
 */
export * from './base64.js';
export * from './client-frames.js';
export * from './codes.js';
export * from './frames.js';
export * from './json-coerce.js';
export * from './message-id.js';
export * from './params.js';
export * from './paths.js';
export * from './time.js';
export * from './topic-name.js';
export * from './encryption.js';
export * from './partition-hash.js';

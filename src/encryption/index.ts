/**
 * End-to-end message encryption as Pulsar does it (RSA data-key wrapping, AES-GCM, compression, batch
 * framing). Shared by the embedded broker (server-side mode, decrypting for consumers) and the streams
 * (client-side mode), the way src/protocol is: it imports src/protocol only. Its only I/O is reading and
 * writing key files (keys.ts).
 */
export * from './batch.js';
export * from './codecs.js';
export * from './decrypt.js';
export * from './keys.js';
export * from './message-crypto.js';

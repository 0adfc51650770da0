/** End-to-end message encryption as Pulsar does it (RSA data-key wrapping, AES-GCM, compression, batches). */
export * from './batch.js';
export * from './codecs.js';
export * from './decrypt.js';
export * from './keys.js';
export * from './message-crypto.js';

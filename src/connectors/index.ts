/** Connectors: sources and sinks that compose with the streams through `pipeline()`. */
export { CheckpointStore, type FilePosition } from './checkpoint.js';
export { FileSource, type FileSourceOptions } from './file-source.js';
export { FileSink, type FileSinkOptions } from './file-sink.js';
export { stdinSource, stdoutSink, type StdinSourceOptions } from './stdin.js';
export { FRAMINGS, type Framing, type NdjsonMapping } from './framing.js';
export { SINK_FORMATS, ndjsonEnvelope, type NdjsonEnvelope, type SinkFormat } from './sink-format.js';
export { WebhookSource, type WebhookOptions } from './http-webhook.js';
export { S3Sink, DEFAULT_KEY_TEMPLATE, type S3SinkOptions, type S3UploadEvent } from './s3-sink.js';

/**
 * One run of one pipeline: its own client (so that tearing it down touches no other pipeline), its
 * source and sink built from the config, the intake stage between them, and what the supervisor
 * reads: the state of its connections, messages in flight, the last progress. `done` settles when
 * the run ends: resolved when the source ended (or a drain finished), rejected with what failed.
 */
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { glob } from 'tinyglobby';
import { CheckpointStore } from '../connectors/checkpoint.js';
import { effectivelyOnceOptions, upgradeCheckpointEntry } from '../connectors/dedup-resume.js';
import { FileSource } from '../connectors/file-source.js';
import { WebhookSource } from '../connectors/http-webhook.js';
import { stdinSource } from '../connectors/stdin.js';
import { ConnectorError } from '../errors.js';
import {
  PulsarWsClient,
  type ConsumerStream,
  type MultiTopicConsumerStream,
  type ProducerOptions,
  type PulsarWsClientOptions,
  type SessionState,
} from '../index.js';
import type { PipelineConfig, SinkConfig, SourceConfig } from './config-schema.js';
import { intake, type IntakeCounters } from './intake.js';
import type { SidecarMetrics } from './metrics.js';
import { openSink } from './pipeline-sinks.js';
import { topicSelectionOf } from './topic-source.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting';

export interface RunOptions {
  readonly name: string;
  readonly config: PipelineConfig;
  readonly client: Omit<PulsarWsClientOptions, 'logger'>;
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
  /** Readers: where this run starts (after the last message an earlier run wrote). */
  readonly readerStart?: string;
}

type TopicSinkConfig = Extract<SinkConfig, { type: 'topic' }>;
type FileSourceConfig = Extract<SourceConfig, { type: 'file' }>;

/** The same producer name per file as `file-to-topic --dedup`, so either may resume the other's work. */
function dedupName(base: string | undefined, file: string, many: boolean): string {
  const digest = createHash('sha256').update(resolve(file)).digest('hex').slice(0, 12);
  if (base === undefined) return `pulsar-ws-file-${digest}`;
  return many ? `${base}-${digest}` : base;
}

async function expandFiles(paths: string | readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const pattern of typeof paths === 'string' ? [paths] : paths) {
    if (!/[*?[{]/.test(pattern)) {
      files.push(pattern);
      continue;
    }
    const matches = (await glob(pattern, { onlyFiles: true, absolute: true })).sort();
    if (matches.length === 0) throw new ConnectorError('file', `${pattern} matches no file`);
    files.push(...matches);
  }
  return files;
}

function framingOf(source: Extract<SourceConfig, { type: 'file' | 'stdin' }>) {
  return {
    format: source.format,
    ...(source.chunkBytes === undefined ? {} : { chunkBytes: source.chunkBytes }),
    ...(source.keyField === undefined ? {} : { keyField: source.keyField }),
    ...(source.propertiesField === undefined ? {} : { propertiesField: source.propertiesField }),
  };
}

export class PipelineRun {
  readonly done: Promise<void>;
  /** Messages taken from the source and not yet written by the sink. */
  inFlight = 0;
  /** When the sink last wrote a message (ms since the epoch), or when the run started. */
  lastProgress = Date.now();
  /** The id of the last consumed message the sink wrote. */
  lastWrittenId: string | undefined;
  readonly startedAt = Date.now();
  /** Why a session last lost or failed its connection. */
  connectionError: string | undefined;
  private readonly client: PulsarWsClient;
  private readonly intakeStop = new AbortController();
  private readonly teardown = new AbortController();
  private readonly connections = new Map<EventEmitter, SessionState>();
  private readonly consumers = new Set<ConsumerStream | MultiTopicConsumerStream>();
  private webhook: WebhookSource | undefined;
  private readonly counters: IntakeCounters;
  /** Set once source and sink are built and messages may flow. */
  private flowing = false;

  constructor(private readonly options: RunOptions) {
    const { metrics, name } = options;
    const labels = { pipeline: name };
    // A message counts as acknowledged once per side that talks to a broker about it.
    const acksPerMessage =
      (options.config.source.type === 'topic' ? 1 : 0) + (options.config.sink.type === 'topic' ? 1 : 0);
    this.counters = {
      taken: (bytes) => {
        this.inFlight += 1;
        metrics.messagesIn.inc(labels);
        metrics.bytesIn.inc(labels, bytes);
        metrics.inFlight.set(labels, this.inFlight);
      },
      written: (bytes, messageId) => {
        this.inFlight = Math.max(0, this.inFlight - 1);
        this.lastProgress = Date.now();
        if (messageId !== undefined) this.lastWrittenId = messageId;
        metrics.messagesOut.inc(labels);
        metrics.bytesOut.inc(labels, bytes);
        if (acksPerMessage > 0) metrics.acks.inc(labels, acksPerMessage);
        metrics.inFlight.set(labels, this.inFlight);
        metrics.lastProgress.set(labels, this.lastProgress / 1000);
      },
      givenBack: () => {
        this.inFlight = Math.max(0, this.inFlight - 1);
        metrics.nacks.inc(labels);
        metrics.inFlight.set(labels, this.inFlight);
      },
    };
    this.client = new PulsarWsClient({ ...options.client, logger: options.logger });
    this.done = this.run().finally(() => this.client.close());
  }

  /**
   * The worst state among the run's open WebSocket sessions; `connecting` while the run is still
   * building its source and sink (checking a bucket, opening files), connected once it has no session.
   */
  get connection(): ConnectionState {
    if (!this.flowing) return 'connecting';
    const states = [...this.connections.values()];
    if (states.includes('reconnecting')) return 'reconnecting';
    if (states.includes('connecting')) return 'connecting';
    return 'connected';
  }

  /** Messages asked of the broker and not yet received, over the run's consumers. */
  get permitsOutstanding(): number {
    let total = 0;
    for (const consumer of this.consumers) total += consumer.permitsOutstanding;
    return total;
  }

  /** Begins a drain: no new messages are taken; what was taken is written, acknowledged, and the run ends. */
  stopIntake(): void {
    this.intakeStop.abort();
    for (const consumer of this.consumers) consumer.stopPermits();
    if (this.webhook !== undefined) void this.webhook.close();
  }

  /** Tears the run down now: what is not written is not acknowledged (it comes again). */
  abort(): void {
    this.intakeStop.abort();
    this.teardown.abort();
  }

  private watch<S extends EventEmitter>(stream: S): S {
    this.connections.set(stream, 'connecting');
    stream.on('state', (state: SessionState, error?: Error) => {
      if (error !== undefined) this.connectionError = error.message;
      if (state === 'reconnecting') this.options.metrics.reconnects.inc({ pipeline: this.options.name });
      if (state === 'closed') this.connections.delete(stream);
      else this.connections.set(stream, state);
    });
    stream.once('close', () => this.connections.delete(stream));
    return stream;
  }

  private producer(sink: SinkConfig, options: ProducerOptions = {}): Writable {
    if (sink.type !== 'topic')
      throw new ConnectorError('sidecar', `a publishing source needs a topic sink, not ${sink.type}`);
    return this.watch(this.client.producer(sink.topic, { maxInFlight: sink.maxInFlight, ...options }));
  }

  /** Source → intake → sink until the source ends, the drain finishes or something fails. */
  private async flow(source: Readable, sink: Writable, stoppable: boolean, republish = false): Promise<void> {
    this.flowing = true;
    await pipeline(
      source,
      intake({ counters: this.counters, ...(stoppable ? { stop: this.intakeStop.signal } : {}), republish }),
      sink,
      { signal: this.teardown.signal },
    );
  }

  private async run(): Promise<void> {
    const { source, sink } = this.options.config;
    switch (source.type) {
      case 'file':
        return this.runFiles(source, sink as TopicSinkConfig);
      case 'stdin':
        return this.flow(stdinSource(framingOf(source)), this.producer(sink), true);
      case 'webhook':
        return this.runWebhook(source, sink);
      case 'topic':
      case 'reader':
        return this.runConsumer(source, sink);
    }
  }

  private async runFiles(source: FileSourceConfig, sink: TopicSinkConfig): Promise<void> {
    const files = await expandFiles(source.path);
    const checkpoint =
      source.checkpoint === undefined ? undefined : await CheckpointStore.open(source.checkpoint);
    const one = async (file: string): Promise<void> => {
      if (this.intakeStop.signal.aborted) return;
      if (sink.dedup)
        await upgradeCheckpointEntry(this.client, sink.topic, file, checkpoint, this.options.logger);
      const fileSource = await FileSource.open(file, {
        ...framingOf(source),
        follow: source.follow,
        ...(checkpoint === undefined ? {} : { checkpoint }),
      });
      const options: ProducerOptions = sink.dedup
        ? effectivelyOnceOptions(fileSource, dedupName(sink.producerName, file, files.length > 1))
        : {};
      await this.flow(fileSource, this.producer(sink, options), true);
    };
    try {
      // Followed files never end: side by side, and one failing tears the others down. Otherwise in order.
      if (source.follow) {
        const results = await Promise.allSettled(
          files.map((file) =>
            one(file).catch((error: unknown) => {
              this.abort();
              throw error;
            }),
          ),
        );
        const failed = results.find((result) => result.status === 'rejected');
        if (failed !== undefined) throw failed.reason;
      } else {
        for (const file of files) await one(file);
      }
    } finally {
      await checkpoint?.flush();
    }
  }

  private async runWebhook(
    source: Extract<SourceConfig, { type: 'webhook' }>,
    sink: SinkConfig,
  ): Promise<void> {
    const secretOf = async (value: string | undefined, file: string | undefined, key: string) => {
      if (file === undefined) return value;
      try {
        return (await readFile(file, 'utf8')).trim();
      } catch (error) {
        throw new ConnectorError('webhook', `cannot read ${key} ${file}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    };
    const secret = await secretOf(source.secret, source.secretFile, 'secretFile');
    const hmacSecret = await secretOf(source.hmacSecret, source.hmacSecretFile, 'hmacSecretFile');
    const producer = this.producer(sink);
    const webhook = await WebhookSource.listen({
      port: source.port,
      host: source.host,
      path: source.path,
      ...(secret === undefined ? {} : { secret }),
      secretHeader: source.secretHeader.toLowerCase(),
      ...(hmacSecret === undefined ? {} : { hmacSecret }),
      signatureHeader: source.signatureHeader.toLowerCase(),
      keyHeader: source.keyHeader.toLowerCase(),
      propertyHeaderPrefix: source.propertyHeaderPrefix.toLowerCase(),
      maxBodyBytes: source.maxBodyBytes,
      maxInFlight: source.maxInFlight,
      maxMessagesInFlight: source.maxMessagesInFlight,
      maxRequestMessagesInFlight: source.maxRequestMessagesInFlight,
      bodyTimeoutMs: source.bodyTimeout,
      logger: this.options.logger,
    }).catch((error: unknown) => {
      producer.destroy();
      throw new ConnectorError(
        'webhook',
        `cannot listen on ${source.host}:${source.port}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    });
    this.webhook = webhook;
    webhook.on('response', (status: number) =>
      this.options.metrics.webhookRequests.inc({ pipeline: this.options.name, status: String(status) }),
    );
    this.options.logger.info({ url: webhook.url }, 'webhook listening');
    if (this.intakeStop.signal.aborted) void webhook.close();
    // The webhook ends itself when closed (new requests get 503, those in flight finish).
    await this.flow(webhook, producer, false);
  }

  private async runConsumer(
    source: Extract<SourceConfig, { type: 'topic' | 'reader' }>,
    sink: SinkConfig,
  ): Promise<void> {
    const sinkStream = await openSink(
      sink,
      {
        client: this.client,
        logger: this.options.logger,
        onS3Upload: () => this.options.metrics.s3Objects.inc({ pipeline: this.options.name }),
      },
      source.topic,
    );
    if (sink.type === 'topic') this.watch(sinkStream);
    let stream: Readable;
    try {
      if (source.type === 'topic') {
        const selection = topicSelectionOf(source);
        const consumer = this.client.consumer(selection, source.subscription, {
          subscriptionType: source.subscriptionType,
          subscriptionInitialPosition: source.initialPosition,
          highWaterMark: source.receiverQueueSize,
          // The drain waits for the sink itself; a torn-down run closes at once.
          closeGraceMs: 0,
          ...(source.topicsPattern === undefined
            ? {}
            : { patternAutoDiscoveryPeriodMs: source.patternAutoDiscoveryPeriod }),
        });
        this.consumers.add(consumer);
        // As a Readable: the two stream classes' typed `once` overloads do not unite.
        (consumer as Readable).once('close', () => this.consumers.delete(consumer));
        stream = this.watch(consumer);
      } else {
        stream = this.watch(
          this.client.reader(source.topic, {
            startMessageId: this.options.readerStart ?? source.start,
            stopAtEnd: source.untilEnd,
            highWaterMark: source.receiverQueueSize,
          }),
        );
      }
    } catch (error) {
      sinkStream.destroy();
      throw error;
    }
    await this.flow(stream, sinkStream, true, sink.type === 'topic');
  }
}

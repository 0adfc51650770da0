/**
 * S3 sink: messages batched into objects (by count, bytes and time), optionally gzipped, uploaded
 * with `@aws-sdk/lib-storage` (multipart for big objects), and acknowledged only once the object's
 * upload completed. Object keys come from a template with per-message fields, so one batch may split
 * into several objects (one per distinct key prefix).
 *
 * One serial path: appends and every kind of flush (count, bytes, interval, end) run one after
 * another on one promise chain, so a flush never ends a spool file that a write is still waiting on.
 * On any failure (spool file, upload, timeout) every open object is aborted, its file closed and
 * removed, nothing more is acknowledged and the sink is destroyed with the error.
 *
 * Redelivery: the default key ends in the object's first and last message ids. A redelivered batch
 * overwrites its object when it is cut at the same two messages (the same key): after a failed
 * upload or a crash, when the batch was cut by count (`batchCount`) from the same first message and
 * every key field is the same. It produces a second object, holding some of the same messages, when
 * it is cut elsewhere: a batch cut by time (`batchIntervalMs`), by bytes (`batchBytes`) or by the
 * end of the run, a restart that starts mid-batch, or messages redelivered in another order (Shared
 * subscriptions). S3 output is at-least-once; consumers of the objects dedupe by message id (ndjson
 * envelopes carry it). A template without {firstId}/{lastId} makes later batches overwrite earlier
 * ones: keep both.
 *
 * Memory: each object is spooled to a temporary file as messages arrive and streamed from there, so
 * memory stays at about `partSize × queueSize` per upload, whatever the batch size. A failed upload
 * acknowledges nothing (the messages come again) and leaves no object: lib-storage aborts the
 * multipart upload.
 *
 * Template fields: {topic} (local name; a partitioned topic's base name), {date} (YYYY-MM-DD), {hour} (HH) and {partition} of the
 * first message (publish time, or event time with `timeField: 'event'`, UTC), {firstId}, {lastId}
 * (`ledger-entry`, plus `-p<partition>` / `-b<batch index>`), {ext} (`.ndjson` or `.txt`, plus `.gz`).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { ConnectorError, InvalidArgumentError, TimeoutError } from '../errors.js';
import type { MessageIdData } from '../protocol/index.js';
import { messageIdDataOf, type ConsumerMessage } from '../streams/consumer-message.js';
import { settlementOf, type Tracked } from '../streams/tracked.js';
import { baseTopicOf } from '../streams/topic-selection.js';
import { checkSinkFormat, encodeRecord, type SinkFormat } from './sink-format.js';
import { SpoolFile } from './s3-spool.js';

/** A topic's local name: the last part of its full or short name. */
function localNameOf(topic: string): string {
  return topic.split('/').at(-1) ?? topic;
}

export const DEFAULT_KEY_TEMPLATE = '{topic}/{date}/{hour}/{firstId}_{lastId}{ext}';
export const DEFAULT_UPLOAD_TIMEOUT_MS = 300_000;

export interface S3SinkOptions {
  readonly bucket: string;
  /** Put before every key. @default '' */
  readonly prefix?: string;
  /** @default '{topic}/{date}/{hour}/{firstId}_{lastId}{ext}' */
  readonly keyTemplate?: string;
  /**
   * The topic, for {topic} of messages that do not carry theirs (consumer streams' messages do: a
   * multi-topic output gets each message's own topic, by its local base name).
   */
  readonly topic?: string;
  /** @default 'ndjson' */
  readonly format?: SinkFormat;
  /** @default false */
  readonly gzip?: boolean;
  /** Upload once this many messages are batched. @default 10000 */
  readonly batchCount?: number;
  /** Upload once this many bytes (before gzip) are batched. @default 64 MiB */
  readonly batchBytes?: number;
  /** Upload a non-empty batch at least this often, in ms. @default 60000 */
  readonly batchIntervalMs?: number;
  /** Which time fills {date} and {hour}. @default 'publish' */
  readonly timeField?: 'publish' | 'event';
  /** A client, or its configuration (endpoint, region, forcePathStyle; credentials from the AWS chain). */
  readonly client?: S3Client | S3ClientConfig;
  /** Multipart part size in bytes (>= 5 MiB). @default 8 MiB */
  readonly partSize?: number;
  /** Parts uploaded at once. @default 4 */
  readonly queueSize?: number;
  /** One object's upload may take this long, in ms; then it is aborted and the sink fails. @default 300000 */
  readonly uploadTimeoutMs?: number;
  /** Where spool files go (a fresh folder is made in it). @default the OS temporary directory */
  readonly spoolDir?: string;
  readonly logger?: Logger;
}

/** The `'upload'` event: an object was uploaded (its messages are acknowledged next). */
export interface S3UploadEvent {
  readonly bucket: string;
  readonly key: string;
  readonly messages: number;
}

/**
 * A message id as it goes into keys (base64 ids hold `/` and `+`): `ledger-entry`, then `-p<partition>`
 * on partitioned topics and `-b<index>` inside a batch.
 */
function keyId(id: MessageIdData): string {
  const partition = id.partition >= 0 ? `-p${id.partition}` : '';
  const batch = id.batchIndex >= 0 ? `-b${id.batchIndex}` : '';
  return `${id.ledgerId}-${id.entryId}${partition}${batch}`;
}

function positiveInteger(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
    throw new InvalidArgumentError(`expected \`${name}\` to be a positive integer, got ${value}`);
  }
}

type FlushReason = 'count' | 'bytes' | 'interval' | 'end';

export class S3Sink extends Writable {
  private readonly s3: S3Client;
  private readonly format: SinkFormat;
  private readonly logger: Logger;
  private readonly objects = new Map<string, SpoolFile>();
  private batchedMessages = 0;
  private batchedBytes = 0;
  private spoolDir: string | undefined;
  private spoolCounter = 0;
  private readonly timer: NodeJS.Timeout;
  /** {topic} of messages without their own. */
  private readonly topicName: string | undefined;
  /** {ext}: the same for every object. */
  private readonly extension: string;
  private readonly uploadTimeoutMs: number;
  /** The serial path: every append and flush runs after the previous one. Never rejects. */
  private serial: Promise<void> = Promise.resolve();
  /** The first failure; once set, nothing more runs and nothing more is acknowledged. */
  private failure: Error | undefined;
  /** The upload in progress, aborted when the sink is destroyed. */
  private current: Upload | undefined;

  constructor(private readonly options: S3SinkOptions) {
    super({ objectMode: true, highWaterMark: 256 });
    if (typeof options.bucket !== 'string' || options.bucket === '') {
      throw new InvalidArgumentError(
        `expected \`bucket\` to be a non-empty string, got ${JSON.stringify(options.bucket)}`,
      );
    }
    this.format = checkSinkFormat(options.format ?? 'ndjson');
    positiveInteger('batchCount', options.batchCount);
    positiveInteger('batchBytes', options.batchBytes);
    positiveInteger('batchIntervalMs', options.batchIntervalMs);
    positiveInteger('queueSize', options.queueSize);
    positiveInteger('uploadTimeoutMs', options.uploadTimeoutMs);
    if (
      options.partSize !== undefined &&
      !(Number.isInteger(options.partSize) && options.partSize >= 5 * 1024 * 1024)
    ) {
      throw new InvalidArgumentError(
        `expected \`partSize\` to be an integer >= 5 MiB (S3's minimum), got ${options.partSize}`,
      );
    }
    this.s3 = options.client instanceof S3Client ? options.client : new S3Client(options.client ?? {});
    this.logger = options.logger ?? pino({ enabled: false });
    this.topicName = options.topic === undefined ? undefined : localNameOf(options.topic);
    this.extension = `${this.format === 'ndjson' ? '.ndjson' : '.txt'}${options.gzip === true ? '.gz' : ''}`;
    this.uploadTimeoutMs = options.uploadTimeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS;
    this.timer = setInterval(() => {
      // Queued behind any append in progress; checks for a batch when its turn comes.
      this.enqueue(() => this.flush('interval')).catch((error: unknown) => this.destroy(error as Error));
    }, options.batchIntervalMs ?? 60_000);
  }

  /**
   * Runs `operation` on the serial path. The returned promise rejects with the operation's error;
   * the path itself then aborts every open object first, and refuses everything after.
   */
  private enqueue(operation: () => Promise<void>): Promise<void> {
    const run = this.serial.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      await operation();
    });
    const settled = run.catch(async (error: unknown) => {
      this.failure ??= error as Error;
      await this.discardAll();
    });
    this.serial = settled;
    return run.catch(async (error: unknown) => {
      // The caller sees the error once the open objects are gone (files closed and removed).
      await settled;
      throw error;
    });
  }

  /** Aborts every open object: closes and removes its spool file; its messages stay unacknowledged. */
  private async discardAll(): Promise<void> {
    const objects = [...this.objects.values()];
    this.objects.clear();
    this.batchedMessages = 0;
    this.batchedBytes = 0;
    const results = await Promise.allSettled(objects.map((object) => object.discard()));
    for (const result of results) {
      // Already failing with the first error; a cleanup failure is logged (the file may be left).
      if (result.status === 'rejected')
        this.logger.warn({ err: result.reason as Error }, 'spool cleanup failed');
    }
  }

  /**
   * The object a message goes into (its key prefix from the template fields), opened on first use.
   * `id` is the message's decoded id, `idText` its key form.
   */
  private async objectFor(message: ConsumerMessage, id: MessageIdData, idText: string): Promise<SpoolFile> {
    const time =
      this.options.timeField === 'event' ? (message.eventTime ?? message.publishTime) : message.publishTime;
    const iso = time.toISOString();
    const fields: Record<string, string> = {
      topic: message.topic === undefined ? (this.topicName ?? '') : localNameOf(baseTopicOf(message.topic)),
      date: iso.slice(0, 10),
      hour: iso.slice(11, 13),
      partition: String(id.partition),
      ext: this.extension,
    };
    const fill = (firstId: string, lastId: string): string =>
      (this.options.prefix ?? '') +
      (this.options.keyTemplate ?? DEFAULT_KEY_TEMPLATE).replace(/\{(\w+)\}/g, (whole, name: string) => {
        if (name === 'firstId') return firstId;
        if (name === 'lastId') return lastId;
        return fields[name] ?? whole;
      });
    const group = fill('', '');
    const existing = this.objects.get(group);
    if (existing !== undefined) return existing;
    this.spoolDir ??= await this.makeSpoolDir();
    const file = join(this.spoolDir, `object-${++this.spoolCounter}`);
    const object = await SpoolFile.open(
      file,
      (lastId) => fill(idText, lastId),
      idText,
      this.options.gzip === true,
    );
    this.objects.set(group, object);
    return object;
  }

  private async makeSpoolDir(): Promise<string> {
    const parent = this.options.spoolDir ?? tmpdir();
    try {
      return await mkdtemp(join(parent, 'pulsar-ws-s3-'));
    } catch (error) {
      throw new ConnectorError(
        's3',
        `cannot create a spool folder in ${parent}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  override _write(
    chunk: ConsumerMessage | Tracked<ConsumerMessage>,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    const { value: message, written } = settlementOf(chunk);
    this.enqueue(() => this.append(message, written)).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  private async append(message: ConsumerMessage, written: () => void): Promise<void> {
    const id = messageIdDataOf(message);
    const idText = keyId(id);
    const object = await this.objectFor(message, id, idText);
    const record = encodeRecord(message, this.format);
    await object.append(record, idText, written);
    this.batchedMessages += 1;
    this.batchedBytes += record.length;
    if (this.batchedMessages >= (this.options.batchCount ?? 10_000)) await this.flush('count');
    else if (this.batchedBytes >= (this.options.batchBytes ?? 64 * 1024 * 1024)) await this.flush('bytes');
  }

  /**
   * Uploads every open object, one after another; acknowledges each object's messages once its
   * upload completed. Runs on the serial path only.
   */
  private async flush(reason: FlushReason): Promise<void> {
    if (this.batchedMessages === 0) return;
    this.logger.debug({ reason, messages: this.batchedMessages, bytes: this.batchedBytes }, 'flushing batch');
    this.batchedMessages = 0;
    this.batchedBytes = 0;
    // Objects stay in `objects` until uploaded, so a failure on one discards the others too.
    for (const [group, object] of [...this.objects]) {
      await this.upload(object);
      this.objects.delete(group);
      for (const ack of object.acks) ack();
      await rm(object.file, { force: true });
    }
  }

  private async upload(object: SpoolFile): Promise<void> {
    await object.finish();
    const key = object.key(object.lastId);
    const upload = new Upload({
      client: this.s3,
      params: {
        Bucket: this.options.bucket,
        Key: key,
        Body: createReadStream(object.file),
        ContentType: this.format === 'ndjson' ? 'application/x-ndjson' : 'text/plain',
        ...(this.options.gzip === true ? { ContentEncoding: 'gzip' } : {}),
      },
      partSize: this.options.partSize ?? 8 * 1024 * 1024,
      queueSize: this.options.queueSize ?? 4,
      leavePartsOnError: false,
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // abort() makes done() reject; that rejection is what reports the timeout.
      upload
        .abort()
        .catch((error: unknown) => this.logger.warn({ err: error as Error, key }, 'abort failed'));
    }, this.uploadTimeoutMs);
    this.current = upload;
    try {
      await upload.done();
    } catch (error) {
      const target = `s3://${this.options.bucket}/${key}`;
      if (timedOut) {
        throw new TimeoutError(`upload of ${target} took longer than ${this.uploadTimeoutMs} ms; aborted`, {
          cause: error,
        });
      }
      throw new ConnectorError('s3', `upload of ${target} failed: ${(error as Error).message}`, {
        cause: error,
        retryable: true,
      });
    } finally {
      clearTimeout(timer);
      this.current = undefined;
    }
    this.logger.info({ bucket: this.options.bucket, key, messages: object.acks.length }, 'object uploaded');
    this.emit('upload', {
      bucket: this.options.bucket,
      key,
      messages: object.acks.length,
    } satisfies S3UploadEvent);
  }

  override _final(callback: (error?: Error | null) => void): void {
    clearInterval(this.timer);
    this.enqueue(() => this.flush('end')).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearInterval(this.timer);
    // Torn down: what is queued runs into `failure` and stops; objects not uploaded acknowledge
    // nothing; their files are closed and removed with the spool folder.
    this.failure ??= error ?? new ConnectorError('s3', 'the sink was destroyed');
    // Its done() rejects, which fails the flush on the serial path.
    this.current?.abort().catch((abortError: unknown) => {
      this.logger.warn({ err: abortError as Error }, 'abort of the upload in progress failed');
    });
    const spoolDir = this.spoolDir;
    this.serial
      .then(() => this.discardAll())
      .then(() => (spoolDir === undefined ? undefined : rm(spoolDir, { recursive: true, force: true })))
      .then(
        () => callback(error),
        (cleanupError: unknown) => callback(error ?? (cleanupError as Error)),
      );
  }
}

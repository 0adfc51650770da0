/**
 * S3 sink: messages batched into objects (by count, bytes and time), optionally gzipped, uploaded
 * with `@aws-sdk/lib-storage` (multipart for big objects), and acknowledged only once the object's
 * upload completed. Object keys come from a template with per-message fields, so one batch may split
 * into several objects (one per distinct key prefix), and end in the object's first and last message
 * ids: a redelivered batch gets the same key and overwrites the object instead of duplicating it.
 *
 * Memory: each object is spooled to a temporary file as messages arrive and streamed from there, so
 * memory stays at about `partSize × queueSize` per upload, whatever the batch size. A failed upload
 * acknowledges nothing (the messages come again) and leaves no object: lib-storage aborts the
 * multipart upload.
 *
 * Template fields: {topic} (local name), {date} (YYYY-MM-DD), {hour} (HH) and {partition} of the
 * first message (publish time, or event time with `timeField: 'event'`, UTC), {firstId}, {lastId}
 * (`ledger-entry`, plus `-p<partition>` / `-b<batch index>`), {ext} (`.ndjson` or `.txt`, plus `.gz`).
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGzip, type Gzip } from 'node:zlib';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { ConnectorError, InvalidArgumentError } from '../errors.js';
import { decodeMessageId, type MessageIdData } from '../protocol/index.js';
import type { ConsumerMessage } from '../streams/consumer-message.js';
import { settlementOf, type Tracked } from '../streams/tracked.js';
import { checkSinkFormat, encodeRecord, type SinkFormat } from './sink-format.js';

export const DEFAULT_KEY_TEMPLATE = '{topic}/{date}/{hour}/{firstId}_{lastId}{ext}';

export interface S3SinkOptions {
  readonly bucket: string;
  /** Put before every key. @default '' */
  readonly prefix?: string;
  /** @default '{topic}/{date}/{hour}/{firstId}_{lastId}{ext}' */
  readonly keyTemplate?: string;
  /** The topic, for {topic}. */
  readonly topic: string;
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
  readonly logger?: Logger;
}

/** The `'upload'` event: an object was uploaded (its messages are acknowledged next). */
export interface S3UploadEvent {
  readonly bucket: string;
  readonly key: string;
  readonly messages: number;
}

interface OpenObject {
  readonly key: (lastId: string) => string;
  lastId: string;
  readonly file: string;
  readonly out: WriteStream;
  readonly gzip: Gzip | undefined;
  readonly acks: (() => void)[];
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

export class S3Sink extends Writable {
  private readonly s3: S3Client;
  private readonly format: SinkFormat;
  private readonly logger: Logger;
  private readonly objects = new Map<string, OpenObject>();
  private batchedMessages = 0;
  private batchedBytes = 0;
  private spoolDir: string | undefined;
  private spoolCounter = 0;
  private readonly timer: NodeJS.Timeout;
  /** {topic} and {ext}: the same for every object. */
  private readonly topicName: string;
  private readonly extension: string;
  private flushing: Promise<void> = Promise.resolve();

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
    this.topicName = options.topic.split('/').at(-1) ?? options.topic;
    this.extension = `${this.format === 'ndjson' ? '.ndjson' : '.txt'}${options.gzip === true ? '.gz' : ''}`;
    this.timer = setInterval(() => {
      if (this.batchedMessages > 0) void this.flush().catch((error: unknown) => this.destroy(error as Error));
    }, options.batchIntervalMs ?? 60_000);
  }

  /**
   * The object a message goes into (its key prefix from the template fields), opened on first use.
   * `id` is the message's decoded id, `idText` its key form.
   */
  private async openObject(message: ConsumerMessage, id: MessageIdData, idText: string): Promise<OpenObject> {
    const time =
      this.options.timeField === 'event' ? (message.eventTime ?? message.publishTime) : message.publishTime;
    const iso = time.toISOString();
    const fields: Record<string, string> = {
      topic: this.topicName,
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
    this.spoolDir ??= await mkdtemp(join(tmpdir(), 'pulsar-ws-s3-'));
    const file = join(this.spoolDir, `object-${++this.spoolCounter}`);
    const out = createWriteStream(file);
    const gzip = this.options.gzip === true ? createGzip() : undefined;
    gzip?.pipe(out);
    const object: OpenObject = {
      key: (lastId) => fill(idText, lastId),
      lastId: idText,
      file,
      out,
      gzip,
      acks: [],
    };
    this.objects.set(group, object);
    return object;
  }

  override _write(
    chunk: ConsumerMessage | Tracked<ConsumerMessage>,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    const { value: message, written } = settlementOf(chunk);
    this.append(message, written).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  private async append(message: ConsumerMessage, written: () => void): Promise<void> {
    await this.flushing;
    const id = decodeMessageId(message.messageId);
    const idText = keyId(id);
    const object = await this.openObject(message, id, idText);
    const record = encodeRecord(message, this.format);
    const target = object.gzip ?? object.out;
    if (!target.write(record)) await new Promise<void>((resolve) => target.once('drain', () => resolve()));
    object.lastId = idText;
    object.acks.push(written);
    this.batchedMessages += 1;
    this.batchedBytes += record.length;
    if (
      this.batchedMessages >= (this.options.batchCount ?? 10_000) ||
      this.batchedBytes >= (this.options.batchBytes ?? 64 * 1024 * 1024)
    ) {
      await this.flush();
    }
  }

  /** Uploads every open object; acknowledges each object's messages once its upload completed. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const objects = [...this.objects.values()];
      this.objects.clear();
      this.batchedMessages = 0;
      this.batchedBytes = 0;
      for (const object of objects) await this.upload(object);
    });
    return this.flushing;
  }

  private async upload(object: OpenObject): Promise<void> {
    (object.gzip ?? object.out).end();
    await finished(object.out);
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
    try {
      await upload.done();
    } catch (error) {
      throw new ConnectorError(
        's3',
        `upload of s3://${this.options.bucket}/${key} failed: ${(error as Error).message}`,
        {
          cause: error,
          retryable: true,
        },
      );
    } finally {
      await rm(object.file, { force: true });
    }
    this.logger.info({ bucket: this.options.bucket, key, messages: object.acks.length }, 'object uploaded');
    this.emit('upload', {
      bucket: this.options.bucket,
      key,
      messages: object.acks.length,
    } satisfies S3UploadEvent);
    for (const ack of object.acks) ack();
  }

  override _final(callback: (error?: Error | null) => void): void {
    clearInterval(this.timer);
    this.flush().then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearInterval(this.timer);
    // Torn down: objects not uploaded acknowledge nothing; their spool files go.
    for (const object of this.objects.values()) (object.gzip ?? object.out).destroy();
    this.objects.clear();
    const spoolDir = this.spoolDir;
    this.flushing
      // A failed flush already reported its error (it destroyed the sink); what is left is cleanup.
      .catch(() => undefined)
      .then(() => (spoolDir === undefined ? undefined : rm(spoolDir, { recursive: true, force: true })))
      .then(
        () => callback(error),
        (cleanupError: unknown) => callback(error ?? (cleanupError as Error)),
      );
  }
}

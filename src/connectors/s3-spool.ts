/**
 * One S3 object being built: a temporary spool file that records are appended to (through gzip when
 * asked), then read back for the upload. Errors are caught from the moment the file opens: a failed
 * open, write or close rejects the append or `finish()` that meets it (and is kept for the next
 * one), never an unhandled `'error'` event; `discard()` closes and removes the file whatever state it
 * is in.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { ConnectorError } from '../errors.js';

export class SpoolFile {
  /** Acknowledgements of the messages in this object, called once it is uploaded. */
  readonly acks: (() => void)[] = [];
  /** Key form of the last message's id, for {lastId}. */
  lastId: string;
  private readonly out: WriteStream;
  /** Where records go: the gzip stream, or the file stream itself. */
  private readonly input: Writable;
  /** Settles once every byte is in the file (or the file failed); never rejects unhandled. */
  private readonly flushed: Promise<void>;
  private failure: Error | undefined;

  private constructor(
    readonly file: string,
    readonly key: (lastId: string) => string,
    firstId: string,
    gzip: boolean,
  ) {
    this.lastId = firstId;
    // 'wx': a spool file is always new; an existing one means two sinks share a directory.
    this.out = createWriteStream(file, { flags: 'wx' });
    const compressor = gzip ? createGzip() : undefined;
    this.input = compressor ?? this.out;
    const done = compressor === undefined ? finished(this.out) : pipeline(compressor, this.out);
    this.flushed = done.catch((error: unknown) => {
      this.failure ??= this.spoolError(error);
    });
    // `finished`/`pipeline` listen for 'error' from here on, so no failure goes unhandled.
  }

  /** Opens a new spool file. @throws ConnectorError when it cannot be created. */
  static async open(
    file: string,
    key: (lastId: string) => string,
    firstId: string,
    gzip: boolean,
  ): Promise<SpoolFile> {
    const spool = new SpoolFile(file, key, firstId, gzip);
    // The descriptor, or the open's error (then `flushed` settles and `failure` says why).
    await Promise.race([once(spool.out, 'ready').catch(() => undefined), spool.flushed]);
    spool.throwIfFailed();
    return spool;
  }

  /** Appends one record, waiting for room when the file stream is behind. */
  async append(record: Buffer, idText: string, ack: () => void): Promise<void> {
    this.throwIfFailed();
    if (!this.input.write(record)) {
      // Settles on 'drain', or when the stream failed (then `failure` says why).
      await Promise.race([once(this.input, 'drain').catch(() => undefined), this.flushed]);
    }
    this.throwIfFailed();
    this.lastId = idText;
    this.acks.push(ack);
  }

  /** Ends the file and waits until it is complete on disk. @throws ConnectorError when writing failed. */
  async finish(): Promise<void> {
    this.throwIfFailed();
    this.input.end();
    await this.flushed;
    this.throwIfFailed();
  }

  /** Closes (whatever state it is in) and removes the file; its messages stay unacknowledged. */
  async discard(): Promise<void> {
    this.failure ??= new ConnectorError('s3', `spool file ${this.file} discarded`);
    this.input.destroy();
    await this.flushed;
    await rm(this.file, { force: true });
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private spoolError(error: unknown): ConnectorError {
    return new ConnectorError('s3', `cannot write spool file ${this.file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * stdin source and stdout sink. The source frames any byte stream (stdin by default) like the file
 * source does (`lines`, `ndjson`, `raw`), without checkpoints: a pipe cannot be re-read. The sink
 * writes `lines` or `ndjson` records to stdout (or any byte stream) and acknowledges each message
 * once its write completed.
 */
import { Readable, type Writable } from 'node:stream';
import { InvalidArgumentError } from '../errors.js';
import { ackingSink } from '../streams/acking-sink.js';
import type { ConsumerMessage } from '../streams/consumer-message.js';
import type { ProducerMessageObject } from '../streams/producer-message.js';
import { createFramer, FRAMINGS, toProducerMessage, type Framing, type NdjsonMapping } from './framing.js';
import { checkSinkFormat, encodeRecord, type SinkFormat } from './sink-format.js';

export interface StdinSourceOptions extends NdjsonMapping {
  /** @default 'lines' */
  readonly format?: Framing;
  /** raw: fixed-size chunks; default: everything until the end as one message. */
  readonly chunkBytes?: number;
  /** @default 4 MiB */
  readonly maxRecordBytes?: number;
  /** Named in errors. @default 'stdin' */
  readonly name?: string;
}

/** A `Readable` of messages framed from `input` (default: `process.stdin`). */
export function stdinSource(options: StdinSourceOptions = {}, input: Readable = process.stdin): Readable {
  const format = options.format ?? 'lines';
  if (!FRAMINGS.includes(format)) {
    throw new InvalidArgumentError(
      `expected \`format\` to be one of ${FRAMINGS.join(', ')}, got ${JSON.stringify(format)}`,
    );
  }
  const name = options.name ?? 'stdin';
  const framer = createFramer(0, {
    format,
    ...(options.chunkBytes === undefined ? {} : { chunkBytes: options.chunkBytes }),
    maxRecordBytes: options.maxRecordBytes ?? 4 * 1024 * 1024,
    describe: (line) => `${name}:${line}`,
  });
  const mapping = { keyField: options.keyField, propertiesField: options.propertiesField };
  async function* messages(): AsyncGenerator<ProducerMessageObject> {
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      for (const record of framer.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))) {
        yield toProducerMessage(record, format, mapping, name);
      }
    }
    for (const record of framer.flush()) yield toProducerMessage(record, format, mapping, name);
  }
  return Readable.from(messages(), { objectMode: true, highWaterMark: 64 });
}

/** An acking sink writing each message as a record to `output` (default: `process.stdout`). */
export function stdoutSink(format: SinkFormat = 'lines', output: Writable = process.stdout): Writable {
  checkSinkFormat(format);
  // stdout stays open after the sink ends (other output may follow; a TTY never 'finish'es).
  return ackingSink(output, {
    map: (message: ConsumerMessage) => encodeRecord(message, format),
    highWaterMark: 64,
    end: false,
  });
}

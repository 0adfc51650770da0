/**
 * Pulsar's payload compression codecs, as its Java and C++ clients write them: ZLIB is a zlib stream
 * flushed with SYNC_FLUSH and never finished (so it is read with a sync-flush finish), LZ4 and SNAPPY
 * are raw blocks (no frame), ZSTD is a standard frame. Node provides zlib and zstd; LZ4 comes from
 * lz4-napi and Snappy from snappy (both Rust codecs shipped as prebuilt binaries in their packages).
 */
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { constants, deflateSync, inflateSync } from 'node:zlib';
import type * as Lz4 from 'lz4-napi';
import type * as Snappy from 'snappy';
import type { CompressionType } from '../protocol/index.js';

// The native LZ4 and Snappy codecs load on first use, not with the module: a plain client import
// (which reaches this module through the streams) must not load native binaries it may never need.
const require = createRequire(import.meta.url);
let lz4: typeof Lz4 | undefined;
let snappy: typeof Snappy | undefined;
const lz4Codec = (): typeof Lz4 => (lz4 ??= require('lz4-napi') as typeof Lz4);
const snappyCodec = (): typeof Snappy => (snappy ??= require('snappy') as typeof Snappy);

/**
 * Node's zstd (22.15 and later), looked up when used: a named import would stop the whole client
 * from loading on an older Node (the demo still runs on the machine's own Node 20).
 */
function zstd(): { compress: (body: Buffer) => Buffer; decompress: (body: Buffer) => Buffer } {
  const { zstdCompressSync, zstdDecompressSync } = zlib as Partial<typeof zlib>;
  if (zstdCompressSync === undefined || zstdDecompressSync === undefined) {
    throw new CompressionCodecError(`ZSTD needs Node.js >= 22.15 (this is ${process.version})`);
  }
  return { compress: (body) => zstdCompressSync(body), decompress: (body) => zstdDecompressSync(body) };
}

export class CompressionCodecError extends Error {
  override readonly name = 'CompressionCodecError';
}

export function compress(type: CompressionType, body: Buffer): Buffer {
  switch (type) {
    case 'NONE':
      return body;
    case 'ZLIB':
      return deflateSync(body);
    case 'LZ4':
      // lz4-napi prefixes the raw block with its uncompressed size (u32 LE); Pulsar sends the block alone.
      return lz4Codec().compressSync(body).subarray(4);
    case 'ZSTD':
      return zstd().compress(body);
    case 'SNAPPY':
      return snappyCodec().compressSync(body);
  }
}

/** @throws CompressionCodecError when the body does not decode to `uncompressedSize` bytes. */
export function decompress(type: CompressionType, body: Buffer, uncompressedSize: number): Buffer {
  let result: Buffer;
  try {
    switch (type) {
      case 'NONE':
        return body;
      case 'ZLIB':
        result = inflateSync(body, { finishFlush: constants.Z_SYNC_FLUSH });
        break;
      case 'LZ4': {
        const sized = Buffer.allocUnsafe(4 + body.length);
        sized.writeUInt32LE(uncompressedSize, 0);
        body.copy(sized, 4);
        result = lz4Codec().uncompressSync(sized);
        break;
      }
      case 'ZSTD':
        result = zstd().decompress(body);
        break;
      case 'SNAPPY': {
        const out = snappyCodec().uncompressSync(body);
        result = typeof out === 'string' ? Buffer.from(out, 'utf8') : out;
        break;
      }
    }
  } catch (error) {
    throw new CompressionCodecError(`cannot ${type}-decompress the payload: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // The C++ producer leaves uncompressed_size 0 for NONE only; a compressed size must match.
  if (uncompressedSize > 0 && result.length !== uncompressedSize) {
    throw new CompressionCodecError(
      `${type} payload decompressed to ${result.length} bytes, expected ${uncompressedSize}`,
    );
  }
  return result;
}

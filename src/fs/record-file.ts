/**
 * Files of newline-terminated records that grow by appending (the file sink's output): a buffer
 * appended whole however many write(2) calls it takes, and an unterminated last record cut off.
 *
 * A leaf module: it imports nothing from the rest of the package, so every layer may use it.
 */
import type { FileHandle } from 'node:fs/promises';

/**
 * Appends all of `data` to `handle` (opened for appending). write(2) may store less than it was
 * given, for instance when the disk fills up in the middle of the buffer; the rest goes in further
 * calls, and the call that can store nothing fails with the reason (`ENOSPC`, `EDQUOT`, `EIO`).
 * @throws that error; part of `data` may be in the file then (the caller cuts it back).
 */
export async function appendAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done);
    // write(2) stores at least one byte or fails; never spin on a file that takes nothing.
    if (bytesWritten <= 0) throw new Error(`write stored ${done} of ${data.length} bytes, then nothing`);
    done += bytesWritten;
  }
}

/** Cuts an unterminated last record; returns the bytes removed. */
export async function cutTornTail(handle: FileHandle): Promise<number> {
  const { size } = await handle.stat();
  if (size === 0) return 0;
  const window = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - window.length);
    const { bytesRead } = await handle.read(window, 0, end - start, start);
    const newline = window.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline >= 0) {
      const keep = start + newline + 1;
      if (keep < size) await handle.truncate(keep);
      return size - keep;
    }
    end = start;
  }
  await handle.truncate(0);
  return size;
}

/**
 * Small files replaced atomically and durably, for the broker's metadata and the connectors'
 * checkpoints and state files: write a temporary file next to the target, fsync it, rename it over
 * the target, fsync the directory (without that last step the rename itself can be lost in a power
 * cut, bringing back the old file). A crash leaves the old or the new content, never a torn one.
 *
 * A leaf module: it imports nothing from the rest of the package, so every layer may use it.
 */
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    // The target is untouched; the half-written temporary file goes (best effort: the directory
    // may be the thing that failed, and the write's error is the one to report).
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Makes a rename or file creation in `dir` durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

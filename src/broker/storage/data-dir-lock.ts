/**
 * One broker per data directory: two processes appending to the same logs would corrupt them. The
 * lock file holds the owner's pid; a lock left by a process that no longer runs (killed with SIGKILL)
 * is taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isSafeInteger(owner) && owner !== process.pid && isRunning(owner)) {
      throw new DataDirLockedError(
        `data directory ${dataDir} is in use by another broker (pid ${owner}, see ${path})`,
      );
    }
    if (owner === process.pid) {
      throw new DataDirLockedError(`data directory ${dataDir} is already used by a broker in this process`);
    }
    await rm(path, { force: true });
  }
  throw new DataDirLockedError(`could not lock data directory ${dataDir}`);
}

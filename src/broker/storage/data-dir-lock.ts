/**
 * One broker per data directory: two processes appending to the same logs would corrupt them.
 *
 * The lock is one the operating system keeps, not a pid written into a file: the broker holds an
 * exclusive SQLite transaction on `<dataDir>/broker.lock` for its lifetime (`node:sqlite`; SQLite
 * takes a POSIX advisory lock, `LockFileEx` on Windows). The kernel releases it when the process
 * ends, however it ends, so a broker killed with SIGKILL can start again at once, including as PID 1
 * of a container, where every start has the same pid. SQLite also refuses a second lock on the file
 * from the same process, so two brokers in one process are refused as well.
 *
 * The file stays when the broker stops: deleting it would let a broker that opened the old file and
 * one that creates a new file both hold "the" lock. Its presence means nothing; only the lock counts.
 *
 * Nothing else in the process may open `broker.lock`: closing any descriptor of a file drops every
 * POSIX lock the process holds on it (SQLite's own connections know this and keep theirs open).
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';

/** Another broker (in this process or another) holds the data directory. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
}

export const LOCK_FILE = 'broker.lock';
/** Written by earlier versions: the owner's pid, removed on a clean stop. */
const LEGACY_LOCK_FILE = 'LOCK';
/** SQLite's result codes for a lock held elsewhere. */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

/**
 * Locks the data directory (which must exist) for this broker; resolves with the release function.
 * @throws DataDirLockedError when another broker holds it.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, LOCK_FILE);
  const { DatabaseSync } = await loadSqlite();
  let database: DatabaseSync;
  try {
    // The default busy timeout is 0: a lock held elsewhere fails at once instead of waiting.
    database = new DatabaseSync(path);
  } catch (error) {
    throw new Error(`cannot open the lock file ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    database.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    database.close();
    const code = (error as { errcode?: number }).errcode;
    if (code === SQLITE_BUSY || code === SQLITE_LOCKED) {
      throw new DataDirLockedError(
        `data directory ${dataDir} is in use by another broker (it holds the lock on ${path}); ` +
          'stop that broker or use another data directory',
        { cause: error },
      );
    }
    throw error;
  }
  let released = false;
  const release = (): Promise<void> => {
    if (!released) {
      released = true;
      try {
        database.exec('ROLLBACK');
      } finally {
        database.close();
      }
    }
    return Promise.resolve();
  };
  try {
    await clearLegacyLock(dataDir);
  } catch (error) {
    await release();
    throw error;
  }
  return release;
}

async function loadSqlite(): Promise<{ DatabaseSync: typeof DatabaseSync }> {
  try {
    // Loaded here, not at the top: only a starting broker needs it (Node 22 warns that it is
    // experimental when it loads).
    return await import('node:sqlite');
  } catch (error) {
    throw new Error(
      `the embedded broker needs Node.js >= 22.13 for its data-directory lock (node:sqlite); this is ${process.version}`,
      { cause: error },
    );
  }
}

/**
 * A `LOCK` file of an earlier version: left behind by a broker that was killed (its pid no longer
 * runs, or is ours: a restarted PID 1), it goes; naming another live process, it may belong to an
 * older broker still running on this directory, which knows nothing of `broker.lock`.
 */
async function clearLegacyLock(dataDir: string): Promise<void> {
  const path = join(dataDir, LEGACY_LOCK_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const owner = Number.parseInt(text, 10);
  if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
    throw new DataDirLockedError(
      `data directory ${dataDir} may be in use by a broker of an earlier version: ${path} names ` +
        `pid ${owner}, which is running; stop that broker, or delete ${path} if that process is not one`,
    );
  }
  await rm(path, { force: true });
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

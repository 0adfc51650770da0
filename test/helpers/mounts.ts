/**
 * Small real filesystems for disk-fault tests: a tmpfs of a given size (full disk: ENOSPC) that can
 * be remounted read-only mid-run (EROFS). Tests run as root here, where chmod does not stop writes;
 * a read-only mount does. Where mounting is not possible (not root, no tmpfs, a container without
 * CAP_SYS_ADMIN), `tmpfsUnavailable` says why and the tests that need it are skipped with that reason.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { mkdtemp, open, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Tmpfs {
  readonly dir: string;
  /** Remounts it read-only: every write from now on fails with EROFS. */
  readOnly(): Promise<void>;
  /** Remounts it writable. */
  writable(): Promise<void>;
  /** Unmounts it and removes the mount point. */
  remove(): Promise<void>;
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return `tmpfs mounts need Linux (this is ${process.platform})`;
  const dir = mkdtempSync(join(tmpdir(), 'pws-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): ${(error as Error).message.split('\n')[0]}`;
  } finally {
    rmdirSync(dir);
  }
}

/** Why tmpfs mounts cannot be made here, or undefined when they can. */
export const tmpfsUnavailable: string | undefined = probe();

/** Mounts a fresh tmpfs of `bytes` (rounded up to pages by the kernel). */
export async function mountTmpfs(bytes: number): Promise<Tmpfs> {
  const dir = await mkdtemp(join(tmpdir(), 'pws-tmpfs-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  return {
    dir,
    readOnly: async () => void (await run('mount', ['-o', 'remount,ro', dir])),
    writable: async () => void (await run('mount', ['-o', 'remount,rw', dir])),
    remove: async () => {
      await run('umount', ['-l', dir]);
      await rmdir(dir);
    },
  };
}

/** Fills the disk `dir` is on: a file takes every free block, so the next write fails with ENOSPC. */
export async function fillDisk(dir: string): Promise<string> {
  const filler = join(dir, 'filler');
  const handle = await open(filler, 'w');
  const block = Buffer.alloc(64 * 1024);
  try {
    for (;;) await handle.write(block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
  return filler;
}

/**
 * Names of a file sink's rotated files: `<path>.<UTC time>-<n>`, `<n>` numbered on from the rotated
 * files already there (across runs), so that the names sort in the order the files were made, even
 * within one second, and a rotation never renames over an existing file.
 */
import { readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export class Rotations {
  private constructor(
    private readonly path: string,
    /** The highest `<n>` in use. */
    private last: number,
  ) {}

  /** Numbers on from the rotated files of `path` already in its directory. */
  static async open(path: string): Promise<Rotations> {
    const prefix = `${basename(path)}.`;
    let last = 0;
    for (const name of await readdir(dirname(path))) {
      if (!name.startsWith(prefix)) continue;
      const match = /^\d{8}T\d{6}Z-(\d+)$/.exec(name.slice(prefix.length));
      if (match !== null) last = Math.max(last, Number(match[1]));
    }
    return new Rotations(path, last);
  }

  /** Renames the file at `path` to its next rotated name, which it returns. */
  async rotate(): Promise<string> {
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    let target = `${this.path}.${stamp}-${++this.last}`;
    while (await exists(target)) target = `${this.path}.${stamp}-${++this.last}`;
    await rename(this.path, target);
    return target;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

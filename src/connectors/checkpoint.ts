/**
 * Checkpoints for file sources: per input path, the file's identity (device + inode) and how far the
 * broker has acknowledged it (byte offset, and the count of messages made from it, which dedup uses
 * as sequence ids). Saved atomically (temporary file + rename), at most every `intervalMs` and on
 * `flush()`, so a crash leaves either the old or the new checkpoint, never a torn one.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConnectorError } from '../errors.js';

export interface FilePosition {
  readonly dev: number;
  readonly ino: number;
  /** Bytes of the file whose messages were all acknowledged. */
  readonly offset: number;
  /** Messages made from this path before `offset` (across rotations): the next message's ordinal. */
  readonly messages: number;
}

interface CheckpointFile {
  readonly version: 1;
  readonly files: Record<string, FilePosition>;
}

export class CheckpointStore {
  private readonly files: Map<string, FilePosition>;
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;

  private constructor(
    readonly path: string,
    files: Record<string, FilePosition>,
    private readonly intervalMs: number,
  ) {
    this.files = new Map(Object.entries(files));
  }

  /** Loads `path` (absent: an empty checkpoint). @throws ConnectorError when it is unreadable or malformed. */
  static async open(path: string, intervalMs = 200): Promise<CheckpointStore> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return new CheckpointStore(path, {}, intervalMs);
      throw new ConnectorError('checkpoint', `cannot read checkpoint ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    let parsed: CheckpointFile;
    try {
      parsed = JSON.parse(text) as CheckpointFile;
    } catch (error) {
      throw new ConnectorError('checkpoint', `checkpoint ${path} is not JSON; remove it to start over`, {
        cause: error,
      });
    }
    if (parsed.version !== 1 || typeof parsed.files !== 'object') {
      throw new ConnectorError(
        'checkpoint',
        `checkpoint ${path} has an unknown format; remove it to start over`,
      );
    }
    return new CheckpointStore(path, parsed.files, intervalMs);
  }

  get(file: string): FilePosition | undefined {
    return this.files.get(file);
  }

  /** Records progress; saved within `intervalMs`. */
  set(file: string, position: FilePosition): void {
    this.files.set(file, position);
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.save();
    }, this.intervalMs);
  }

  private save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const body: CheckpointFile = { version: 1, files: Object.fromEntries(this.files) };
      const temporary = `${this.path}.tmp`;
      await mkdir(dirname(this.path), { recursive: true });
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(`${JSON.stringify(body, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.path);
    });
    return this.saving;
  }

  /** Saves now what was recorded so far. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.save();
  }
}

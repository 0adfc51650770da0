/**
 * File reads where a missing file is an answer, not an error (a state never written, a file deleted
 * meanwhile): ENOENT becomes `undefined` / `false`; every other error is thrown as it is.
 */
import { access, readFile } from 'node:fs/promises';

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The file's text (UTF-8), or undefined when there is no such file. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** Whether the path exists. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

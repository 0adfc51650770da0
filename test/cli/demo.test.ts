/** `npm run demo` (the README's first command): the data read back is identical to examples/data/. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const DEMO = fileURLToPath(new URL('../../scripts/demo.ts', import.meta.url));

describe('npm run demo', () => {
  it('sends examples/data/ through file-to-topic and back with topic-to-file: identical checksums', async () => {
    const { stdout } = await run(TSX, [DEMO], { timeout: 60_000 });
    expect(stdout).toMatch(/published 1000 messages/);
    expect(stdout).toMatch(/wrote 1000 messages/);
    expect(stdout.trim().split('\n').at(-1)).toBe('identical');
  }, 90_000);
});

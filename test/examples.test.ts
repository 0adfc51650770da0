/** Every TypeScript example in examples/ runs to completion (Node runs them with type stripping). */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

describe('examples', () => {
  for (const file of readdirSync(EXAMPLES).filter((name) => name.endsWith('.ts'))) {
    it(`${file} runs`, async () => {
      const { stdout } = await run(process.execPath, [`${EXAMPLES}${file}`], { timeout: 20_000 });
      expect(stdout.length).toBeGreaterThan(0);
    });
  }
});

/** Every TypeScript example in examples/ runs to completion (Node runs them with type stripping). */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { titled, versitygwMissing } from './helpers/prerequisites.js';

const run = promisify(execFile);
const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

describe('examples', () => {
  for (const file of readdirSync(EXAMPLES).filter((name) => name.endsWith('.ts'))) {
    // The S3 example starts VersityGW itself unless S3_ENDPOINT names a server.
    const missing =
      file === 's3-sink.ts' && process.env.S3_ENDPOINT === undefined ? versitygwMissing() : undefined;
    it.skipIf(missing !== undefined)(titled(`${file} runs`, missing), async () => {
      const { stdout } = await run(process.execPath, [`${EXAMPLES}${file}`], { timeout: 20_000 });
      expect(stdout.length).toBeGreaterThan(0);
    });
  }
});

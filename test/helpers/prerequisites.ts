/**
 * Prerequisites some suites need beyond Node: a Python module (seed examples, binary-protocol peer)
 * or the VersityGW binary (S3 suites). `npm test` (scripts/test.sh) prepares both when it can and
 * prints a line for what it cannot; a suite whose prerequisite is missing is skipped with the reason
 * in its title, never silently.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const VERSITYGW = fileURLToPath(new URL('../../.tools/bin/versitygw', import.meta.url));

/** Why `python3` cannot import `module` (what to install), or undefined when it can. */
export function pythonModuleMissing(module: string, pipPackage: string): string | undefined {
  const probe = spawnSync('python3', ['-c', `import ${module}`], { stdio: 'ignore' });
  if (probe.error !== undefined) return 'no python3 on PATH: install Python 3 and run npm test';
  if (probe.status !== 0) return `python3 lacks ${pipPackage}: run npm test (it installs it into .venv)`;
  return undefined;
}

/** Why the S3 suites cannot start VersityGW (what to install), or undefined when they can. */
export function versitygwMissing(): string | undefined {
  if (existsSync(VERSITYGW)) return undefined;
  return 'no .tools/bin/versitygw: install Go and run npm test (or scripts/s3/install.sh)';
}

/** A suite title that carries the skip reason, so a skipped suite says what to install. */
export function titled(title: string, missing: string | undefined): string {
  return missing === undefined ? title : `${title} (SKIPPED: ${missing})`;
}

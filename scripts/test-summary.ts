// Prints vitest's JSON report as one plain closing line, "N passed, N failed, N skipped", and exits
// non-zero when no test ran or any failed. Used by .ci/run (Node >= 22.18 runs it with type stripping).
import { readFileSync } from 'node:fs';

interface VitestJsonReport {
  success?: boolean;
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
}

const file = process.argv[2] ?? 'test-results/vitest.json';
const report = JSON.parse(readFileSync(file, 'utf8')) as VitestJsonReport;
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || passed === 0 || report.success === false) process.exit(1);

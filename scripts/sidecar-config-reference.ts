/**
 * Rewrites the config reference in docs/sidecar.md (between its config-reference markers) from the
 * zod schema: `npx tsx scripts/sidecar-config-reference.ts`. test/sidecar/docs.test.ts checks it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configReference } from '../src/sidecar/config-reference.js';

const DOC = new URL('../docs/sidecar.md', import.meta.url);
const START = '<!-- config-reference:start -->';
const END = '<!-- config-reference:end -->';
const text = readFileSync(DOC, 'utf8');
const from = text.indexOf(START);
const to = text.indexOf(END);
if (from < 0 || to < from) throw new Error(`docs/sidecar.md has no ${START} … ${END} section`);
writeFileSync(DOC, `${text.slice(0, from + START.length)}\n${configReference()}\n${text.slice(to)}`);
console.log('docs/sidecar.md: config reference rewritten');

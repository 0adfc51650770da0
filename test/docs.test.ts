/**
 * The documentation stands on its own: every relative link in README.md, CONTRIBUTING.md and docs/
 * points at a file of this repository (and, with a #fragment, at a heading of that file), README.md
 * stays a front page, and no tracked file sends readers to a path outside the repository.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DOCS = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** Markdown without fenced code blocks and inline code, where link-like text is not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const [, heading = ''] of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    anchors.add(slug);
  }
  return anchors;
}

function linksOf(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1] ?? '');
}

describe('documentation links', () => {
  for (const doc of DOCS) {
    it(`every relative link in ${doc} resolves`, () => {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      const broken: string[] = [];
      for (const link of linksOf(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
        const [path = '', fragment] = link.split('#');
        const target = path === '' ? join(ROOT, doc) : resolve(dirname(join(ROOT, doc)), path);
        if (!target.startsWith(ROOT) || !existsSync(target)) {
          broken.push(`${link} (no ${relative(ROOT, target)})`);
          continue;
        }
        if (fragment !== undefined && statSync(target).isFile() && target.endsWith('.md')) {
          if (!anchorsOf(readFileSync(target, 'utf8')).has(fragment))
            broken.push(`${link} (no heading #${fragment})`);
        }
      }
      expect(broken).toEqual([]);
    });
  }

  it('README.md is a front page of at most 300 lines', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(300);
  });

  it('no tracked file refers to a path outside the repository', () => {
    // Built from parts so this file does not match itself.
    const needles = ['../' + 'shared', 'team ' + 'workspace', '/work/' + 'shared'];
    const hits: string[] = [];
    for (const needle of needles) {
      try {
        hits.push(execFileSync('git', ['grep', '-n', '-F', '-i', needle], { cwd: ROOT, encoding: 'utf8' }));
      } catch (error) {
        if ((error as { status?: number }).status !== 1) throw error; // 1: no match
      }
    }
    expect(hits.join('')).toBe('');
  });
});

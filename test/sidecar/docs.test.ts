/**
 * The sidecar's docs stay true: docs/sidecar.md's config reference is what the zod schema accepts,
 * its metrics list is what the sidecar exports, and the examples in examples/sidecar/ lint clean (the
 * pod's grace period outlasts the shutdown timeout, and its probes hit the endpoints).
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/sidecar/config.js';
import { configReference } from '../../src/sidecar/config-reference.js';
import { METRIC_HELP } from '../../src/sidecar/metrics.js';

const doc = await readFile(new URL('../../docs/sidecar.md', import.meta.url), 'utf8');

function section(name: string): string {
  const start = doc.indexOf(`<!-- ${name}:start -->`);
  const end = doc.indexOf(`<!-- ${name}:end -->`);
  if (start < 0 || end < start) throw new Error(`docs/sidecar.md has no ${name} section`);
  return doc.slice(start + `<!-- ${name}:start -->`.length, end);
}

/** Markdown as prettier may lay it out: table cells padded, separator rows of any length. */
function normalized(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) =>
      line
        .trim()
        .replace(/\s*\|\s*/g, '|')
        .replace(/-{3,}/g, '---'),
    )
    .filter((line) => line !== '')
    .join('\n');
}

describe('docs/sidecar.md', () => {
  it('holds the config reference generated from the schema (npx tsx scripts/sidecar-config-reference.ts)', () => {
    expect(normalized(section('config-reference'))).toBe(normalized(configReference()));
  });

  it('lists every metric the sidecar exports, with its meaning', () => {
    const rows = section('metrics')
      .split('\n')
      .map((line) => /^\|\s*`(pulsar_ws_\w+)`\s*\|\s*(\w+)\s*\|\s*(.*?)\s*\|$/.exec(line.trim()))
      .filter((match) => match !== null)
      .map((match) => [match[1], match[3]?.replace(/ \(label `status`\)$/, '')]);
    expect(Object.fromEntries(rows)).toEqual(METRIC_HELP);
  });
});

describe('examples/sidecar', () => {
  it('sidecar.yaml lints clean', async () => {
    const text = await readFile(new URL('../../examples/sidecar/sidecar.yaml', import.meta.url), 'utf8');
    const result = parseConfig(text, { env: {} });
    expect(result.ok ? [] : result.problems).toEqual([]);
  });

  it('pod.yaml: its config lints clean, the grace period outlasts the shutdown timeout, the probes hit /healthz and /readyz', async () => {
    const text = await readFile(new URL('../../examples/sidecar/pod.yaml', import.meta.url), 'utf8');
    interface Probe {
      httpGet: { path: string };
    }
    interface Manifest {
      data?: Record<string, string>;
      spec?: {
        terminationGracePeriodSeconds: number;
        containers: {
          name: string;
          livenessProbe?: Probe;
          readinessProbe?: Probe;
          lifecycle?: { preStop: { exec: { command: string[] } } };
        }[];
      };
    }
    const [configMap, pod] = parseAllDocuments(text).map((document) => document.toJS() as Manifest);
    const result = parseConfig(configMap?.data?.['sidecar.yaml'] ?? '', { env: {} });
    expect(result.ok ? [] : result.problems).toEqual([]);
    if (!result.ok) return;
    expect((pod?.spec?.terminationGracePeriodSeconds ?? 0) * 1000).toBeGreaterThan(
      result.config.shutdownTimeout,
    );
    const sidecar = pod?.spec?.containers.find((container) => container.name === 'pulsar-ws');
    expect(sidecar?.livenessProbe?.httpGet.path).toBe('/healthz');
    expect(sidecar?.readinessProbe?.httpGet.path).toBe('/readyz');
    const pause = Number(sidecar?.lifecycle?.preStop.exec.command.at(-1) ?? 0);
    expect((pod?.spec?.terminationGracePeriodSeconds ?? 0) * 1000).toBeGreaterThan(
      result.config.shutdownTimeout + pause * 1000,
    );
  });
});

/**
 * Loading the sidecar config: read the file, parse it (YAML or JSON), interpolate `${VAR}`, lay the
 * environment and the command-line flags over it (defaults < file < env < flags), validate it with
 * the schema, and report every problem with its key path and the line where the file has it.
 */
import { readFile } from 'node:fs/promises';
import type * as z from 'zod';
import { configSchema, type SidecarConfig } from './config-schema.js';
import { interpolate, parseConfigText, type ConfigProblem, type KeyPath } from './config-document.js';

/** Values that override the file: from the environment or from flags, in that order. */
export interface ConfigOverrides {
  readonly url?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly listen?: string;
  readonly shutdownTimeout?: string;
  readonly logLevel?: string;
}

/** Environment variables that override keys of the file (flags override them in turn). */
export const ENV_OVERRIDES: Readonly<Record<keyof ConfigOverrides, string>> = {
  url: 'PULSAR_WS_URL',
  token: 'PULSAR_TOKEN',
  tokenFile: 'PULSAR_TOKEN_FILE',
  listen: 'PULSAR_WS_SIDECAR_LISTEN',
  shutdownTimeout: 'PULSAR_WS_SHUTDOWN_TIMEOUT',
  logLevel: 'PULSAR_WS_LOG_LEVEL',
};

export interface LoadOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** From flags; they win over the environment. */
  readonly flags?: ConfigOverrides;
}

export type LoadResult =
  | { readonly ok: true; readonly config: SidecarConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

const OVERRIDE_PATHS: Readonly<Record<keyof ConfigOverrides, KeyPath>> = {
  url: ['connection', 'url'],
  token: ['connection', 'token'],
  tokenFile: ['connection', 'tokenFile'],
  listen: ['http', 'listen'],
  shutdownTimeout: ['shutdownTimeout'],
  logLevel: ['logLevel'],
};

export function envOverrides(env: Readonly<Record<string, string | undefined>>): ConfigOverrides {
  const overrides: Record<string, string> = {};
  for (const [key, variable] of Object.entries(ENV_OVERRIDES)) {
    const value = env[variable];
    if (value !== undefined && value !== '') overrides[key] = value;
  }
  return overrides;
}

function setPath(target: Record<string, unknown>, path: KeyPath, value: unknown): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[String(path.at(-1))] = value;
}

/** Applies overrides; returns where each overridden key came from, for the problem report. */
function applyOverrides(
  data: Record<string, unknown>,
  layers: readonly [origin: (key: string) => string, overrides: ConfigOverrides][],
): Map<string, string> {
  const origins = new Map<string, string>();
  for (const [origin, overrides] of layers) {
    for (const [key, value] of Object.entries(overrides) as [keyof ConfigOverrides, string | undefined][]) {
      if (value === undefined) continue;
      const path = OVERRIDE_PATHS[key];
      // A token replaces a token file and the other way round: whichever came last wins.
      if (key === 'token' || key === 'tokenFile') {
        const connection = data.connection as Record<string, unknown> | undefined;
        if (connection !== undefined && typeof connection === 'object') {
          delete connection[key === 'token' ? 'tokenFile' : 'token'];
        }
      }
      setPath(data, path, value);
      origins.set(path.join('.'), origin(key));
    }
  }
  return origins;
}

/** Keys of earlier versions and where they went, so their problem says what to write instead. */
const MOVED_KEYS: Readonly<Record<string, string>> = {
  'http.publish': 'publish.enabled',
  'http.publishMaxBodyBytes': 'publish.maxBodyBytes',
};

function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return 'required';
    const got = Array.isArray(issue.input) ? 'array' : issue.input === null ? 'null' : typeof issue.input;
    return `expected ${issue.expected}, got ${got} ${JSON.stringify(issue.input)}`;
  }
  if (issue.code === 'invalid_union' && 'discriminator' in issue && Array.isArray(issue.options)) {
    const value = issue.input;
    if (value === undefined) return `required (one of ${issue.options.join(', ')})`;
    return `expected one of ${issue.options.join(', ')}, got ${JSON.stringify(value)}`;
  }
  if (issue.code === 'invalid_value') {
    return `expected one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}, got ${JSON.stringify(issue.input)}`;
  }
  return undefined;
}

/** Validates `text` (the file's content) with `env` and `flags` laid over it. */
export function parseConfig(text: string, options: LoadOptions = {}): LoadResult {
  const env = options.env ?? {};
  const { parsed, problems } = parseConfigText(text);
  if (problems.length > 0) return { ok: false, problems };
  const interpolationProblems = interpolate(parsed, env);
  const data: unknown = parsed.document.toJS({ maxAliasCount: 100 });
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return {
      ok: false,
      problems: [
        ...interpolationProblems,
        { path: [], line: 1, message: 'expected a mapping (key: value) at the top' },
      ],
    };
  }
  const origins = applyOverrides(data as Record<string, unknown>, [
    [(key) => `$${ENV_OVERRIDES[key as keyof ConfigOverrides]}`, envOverrides(env)],
    [(key) => `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`, options.flags ?? {}],
  ]);
  const result = configSchema.safeParse(data, { error: issueMessage });
  const found: ConfigProblem[] = [...interpolationProblems];
  const variableProblem = new Set(interpolationProblems.map((problem) => problem.path.join('.')));
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment));
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const moved = MOVED_KEYS[[...path, key].join('.')];
          found.push({
            path: [...path, key],
            line: parsed.lineOf([...path, key]),
            message: moved === undefined ? 'unknown key' : `unknown key (moved to ${moved})`,
          });
        }
        continue;
      }
      // A value still holding an undefined ${VAR} was reported once already.
      if (variableProblem.has(path.join('.'))) continue;
      const origin = origins.get(path.join('.'));
      found.push({
        path,
        line: origin === undefined ? parsed.lineOf(path) : undefined,
        message: origin === undefined ? issue.message : `${issue.message} (from ${origin})`,
      });
    }
  }
  if (found.length > 0 || !result.success) return { ok: false, problems: sortProblems(found) };
  return { ok: true, config: result.data };
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}

/** Reads and validates the config file at `file`. A file that cannot be read is one problem. */
export async function loadConfig(file: string, options: LoadOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return {
      ok: false,
      problems: [{ path: [], line: undefined, message: `cannot read ${file}: ${(error as Error).message}` }],
    };
  }
  return parseConfig(text, options);
}

/** `FILE:LINE: key.path: message` per problem (compilers' format, so editors can jump to it). */
export function formatProblems(file: string, problems: readonly ConfigProblem[]): string {
  return problems
    .map((problem) => {
      const where = problem.line === undefined ? file : `${file}:${problem.line}`;
      const path = problem.path.length === 0 ? '' : `${formatPath(problem.path)}: `;
      return `${where}: ${path}${problem.message}`;
    })
    .join('\n');
}

export function formatPath(path: KeyPath): string {
  return path
    .map((segment) => (typeof segment === 'number' ? `[${segment}]` : segment))
    .join('.')
    .replace(/\.\[/g, '[');
}

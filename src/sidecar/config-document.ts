/**
 * The config file as a YAML document (JSON is YAML too): parsing with line positions, `${VAR}` and
 * `${VAR:default}` interpolation in string values, and the line a key path is written on, so that
 * every problem can name both.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, Scalar, type Document } from 'yaml';

export type KeyPath = readonly (string | number)[];

/** A problem with the config: where (key path, line when known) and what. */
export interface ConfigProblem {
  readonly path: KeyPath;
  readonly line: number | undefined;
  readonly message: string;
}

/** A `${VAR}`, `${VAR:default}` or `$$` found in the text before parsing. */
interface Reference {
  readonly name: string | undefined;
  readonly fallback: string | undefined;
}

export interface ParsedConfigDocument {
  readonly document: Document.Parsed;
  /** What each placeholder in the document's strings stands for. */
  readonly references: readonly Reference[];
  /** The line (1-based) where the value at `path` (or the nearest written ancestor) is. */
  lineOf(path: KeyPath): number | undefined;
}

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}/g;
const PLACEHOLDER = /__pws_ref_(\d+)__/g;

/**
 * Parses YAML or JSON; syntax errors come back as problems with their line. References are swapped
 * for plain placeholders first: `{` and `}` are flow indicators, so `${VAR}` inside a flow mapping
 * (`{ bucket: ${BUCKET} }`) would not parse. Lines stay where they were.
 */
export function parseConfigText(text: string): { parsed: ParsedConfigDocument; problems: ConfigProblem[] } {
  const references: Reference[] = [];
  const masked = text.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
    references.push(whole === '$$' ? { name: undefined, fallback: '$' } : { name, fallback });
    return `__pws_ref_${references.length - 1}__`;
  });
  const lineCounter = new LineCounter();
  const document = parseDocument(masked, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  const problems: ConfigProblem[] = document.errors.map((error) => ({
    path: [],
    line: lineAt(error.pos[0]),
    message: error.message.split('\n')[0] ?? error.message,
  }));
  const lineOf = (path: KeyPath): number | undefined => {
    let node: unknown = document.contents;
    let line = rangeLine(node, lineAt);
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (pair === undefined) return line;
        line = rangeLine(pair.key, lineAt) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
        line = rangeLine(node, lineAt) ?? line;
      } else {
        return line;
      }
    }
    return line;
  };
  return { parsed: { document, references, lineOf }, problems };
}

function rangeLine(node: unknown, lineAt: (offset: number) => number): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range === undefined ? undefined : lineAt(range[0]);
}

/**
 * Replaces `${VAR}` and `${VAR:default}` in every string value (`$$` is a literal `$`). A plain
 * (unquoted) value that was one reference alone and became a number or a boolean is typed as one,
 * so `port: ${PORT:8088}` is a number. An undefined variable without a default is a problem.
 */
export function interpolate(
  parsed: ParsedConfigDocument,
  env: Readonly<Record<string, string | undefined>>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const visit = (node: unknown, path: (string | number)[]): void => {
    if (isMap(node)) {
      for (const item of node.items) {
        if (!isPair(item)) continue;
        const key = isScalar(item.key) ? String(item.key.value) : '?';
        visit(item.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    } else if (isScalar(node) && typeof node.value === 'string') {
      substitute(node, path);
    }
  };
  const substitute = (node: Scalar, path: (string | number)[]): void => {
    const text = node.value as string;
    if (!text.includes('__pws_ref_')) return;
    const replaced = text.replace(PLACEHOLDER, (whole, index: string) => {
      const reference = parsed.references[Number(index)];
      if (reference === undefined) return whole;
      const { name, fallback } = reference;
      if (name === undefined) return fallback ?? '$';
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      problems.push({
        path,
        line: parsed.lineOf(path),
        message: `\${${name}} is not set (give a default with \${${name}:value})`,
      });
      return `\${${name}}`;
    });
    const whole = /^__pws_ref_\d+__$/.test(text) && node.type === Scalar.PLAIN;
    node.value = whole ? typed(replaced) : replaced;
  };
  visit(parsed.document.contents, []);
  return problems;
}

function typed(text: string): string | number | boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

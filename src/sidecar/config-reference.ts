/**
 * The config reference as Markdown tables, generated from the zod schema (through its JSON Schema):
 * docs/sidecar.md holds this text, and a test fails when the two differ, so the docs cannot drift
 * from what the sidecar accepts. `scripts/sidecar-config-reference.ts` rewrites the doc's copy.
 */
import * as z from 'zod';
import { configSchema } from './config-schema.js';

interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: JsonSchema | boolean;
  readonly oneOf?: readonly JsonSchema[];
  readonly anyOf?: readonly JsonSchema[];
  readonly items?: JsonSchema;
}

interface Row {
  readonly key: string;
  readonly type: string;
  readonly required: boolean;
  readonly fallback: string;
  readonly description: string;
}

function typeOf(schema: JsonSchema): string {
  const description = schema.description ?? '';
  if (description.endsWith('(duration)')) return 'duration';
  if (description.endsWith('(size)')) return 'size';
  if (schema.enum !== undefined) return schema.enum.map((value) => String(value)).join(', ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants !== undefined) return variants.map(typeOf).join(' or ');
  if (schema.type === 'array') return `list of ${typeOf(schema.items ?? {})}`;
  if (Array.isArray(schema.type)) return schema.type.join(' or ');
  return typeof schema.type === 'string' ? schema.type : 'any';
}

function describe(schema: JsonSchema): string {
  return (schema.description ?? '').replace(/ \((duration|size)\)$/, '').replace(/\|/g, '\\|');
}

function rows(schema: JsonSchema, prefix: string): Row[] {
  const out: Row[] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const key = `${prefix}${name}`;
    if (property.type === 'object' && property.properties !== undefined) {
      out.push(...rows(property, `${key}.`));
      continue;
    }
    out.push({
      key,
      type: typeOf(property),
      required: (schema.required ?? []).includes(name) && property.default === undefined,
      fallback:
        property.default === undefined
          ? ''
          : `\`${typeof property.default === 'string' ? property.default : JSON.stringify(property.default)}\``,
      description: describe(property),
    });
  }
  return out;
}

function table(list: readonly Row[]): string {
  const lines = ['| Key | Type | Default | Description |', '| --- | --- | --- | --- |'];
  for (const row of list) {
    const fallback = row.required ? 'required' : row.fallback;
    lines.push(`| \`${row.key}\` | ${row.type} | ${fallback} | ${row.description} |`);
  }
  return lines.join('\n');
}

function variants(schema: JsonSchema | undefined, heading: string): string {
  const sections: string[] = [];
  for (const variant of schema?.oneOf ?? []) {
    const type = variant.properties?.type?.const;
    const body = rows(
      {
        ...variant,
        properties: Object.fromEntries(
          Object.entries(variant.properties ?? {}).filter(([name]) => name !== 'type'),
        ),
      },
      '',
    );
    sections.push(`#### ${heading} \`type: ${String(type)}\`\n\n${table(body)}`);
  }
  return sections.join('\n\n');
}

/** The reference: top-level keys, then each source and sink type's keys. */
export function configReference(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const top = rows(
    {
      ...schema,
      properties: Object.fromEntries(
        Object.entries(schema.properties ?? {}).filter(([name]) => name !== 'pipelines'),
      ),
    },
    '',
  );
  const pipeline = (schema.properties?.pipelines?.additionalProperties ?? {}) as JsonSchema;
  return [
    '### Top level',
    '',
    table(top),
    '',
    '`pipelines` maps a name (letters, digits, `_`, `.`, `-`; it becomes the `pipeline` label) to a',
    '`source` and a `sink`, each with a `type` and the keys below.',
    '',
    '### Sources',
    '',
    variants(pipeline.properties?.source, 'Source'),
    '',
    '### Sinks',
    '',
    variants(pipeline.properties?.sink, 'Sink'),
  ].join('\n');
}

/**
 * Field readers that coerce JSON values the way Jackson binds them to Pulsar's Java DTOs, so the
 * embedded broker accepts exactly the frames Pulsar accepts (the seed's Python client sends a numeric
 * `context`, Pulsar's test client sends `"deliverAt": 0`, ...). A value Jackson would reject throws
 * JsonBindError, which the callers turn into the protocol's "bad JSON" answer.
 */

export class JsonBindError extends Error {
  override readonly name = 'JsonBindError';
}

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A Java `String` field: scalars are coerced to text; objects and arrays are rejected. */
export function readString(obj: JsonObject, field: string): string | undefined {
  const value = obj[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new JsonBindError(
    `Cannot deserialize value of type \`java.lang.String\` from ${describe(value)} (field "${field}")`,
  );
}

/**
 * A Java `long`/`int` field: numbers (fractions truncated) and numeric strings; `null`/absent → undefined.
 */
export function readInteger(obj: JsonObject, field: string): number | undefined {
  const value = obj[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === 'string' && /^[+-]?\d+$/.test(value.trim())) return Number(value.trim());
  throw new JsonBindError(
    `Cannot deserialize value of type \`long\` from ${describe(value)} (field "${field}")`,
  );
}

/** A Java `Map<String,String>` field; `null` values are dropped. */
export function readStringMap(obj: JsonObject, field: string): Record<string, string> | undefined {
  const value = obj[field];
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value)) {
    throw new JsonBindError(
      `Cannot deserialize value of type \`java.util.LinkedHashMap<java.lang.String,java.lang.String>\` from ${describe(value)} (field "${field}")`,
    );
  }
  const result: Record<string, string> = {};
  for (const key of Object.keys(value)) {
    const text = readString(value, key);
    if (text !== undefined) result[key] = text;
  }
  return result;
}

/** A Java `List<String>` field. */
export function readStringList(obj: JsonObject, field: string): string[] | undefined {
  const value = obj[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    throw new JsonBindError(
      `Cannot deserialize value of type \`java.util.ArrayList<java.lang.String>\` from ${describe(value)} (field "${field}")`,
    );
  }
  return value.map((item, index) => {
    const text = readString({ item }, 'item');
    if (text === undefined) throw new JsonBindError(`null element ${index} in "${field}"`);
    return text;
  });
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'Array value';
  if (typeof value === 'object') return 'Object value';
  return `${typeof value} value ${JSON.stringify(value)}`;
}

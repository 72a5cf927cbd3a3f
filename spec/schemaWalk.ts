// Reads the zod schema alongside the data, to say which keys are allowed at a place in a definition.
import type { z } from 'zod';

type Schema = z.core.$ZodType;
type Def = Record<string, unknown> & { type: string };

function def(schema: Schema): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** The value a discriminator field of an object schema accepts ("ScheduledTrigger"), if it is a literal. */
function literalOf(schema: Schema | undefined): string | undefined {
  while (schema && WRAPPERS.has(def(schema).type)) schema = def(schema).innerType as Schema;
  if (!schema) return undefined;
  const values = def(schema).values as unknown[] | undefined;
  return def(schema).type === 'literal' && typeof values?.[0] === 'string' ? values[0] : undefined;
}

/** The object, array and record schemas `value` is checked against, looking through wrappers and unions. */
function concrete(schema: Schema, value: unknown): Schema[] {
  const d = def(schema);
  if (WRAPPERS.has(d.type)) return concrete(d.innerType as Schema, value);
  if (d.type === 'pipe') return concrete(d.in as Schema, value);
  if (d.type === 'union') {
    const options = d.options as Schema[];
    const discriminator = d.discriminator as string | undefined;
    const chosen = discriminator && isRecord(value) ? options.filter((option) => optionLiteral(option, discriminator) === value[discriminator]) : [];
    return (chosen.length ? chosen : options).flatMap((option) => concrete(option, value));
  }
  return ['object', 'array', 'record'].includes(d.type) ? [schema] : [];
}

function optionLiteral(option: Schema, discriminator: string): string | undefined {
  return concrete(option, undefined)
    .map((s) => literalOf((def(s).shape as Record<string, Schema> | undefined)?.[discriminator]))
    .find(Boolean);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The schemas that apply at `path` inside `data`. */
export function schemasAt(root: Schema, data: unknown, path: readonly PropertyKey[]): Schema[] {
  let schemas = [root];
  let value = data;
  for (const segment of path) {
    schemas = schemas
      .flatMap((schema) => concrete(schema, value))
      .flatMap((schema) => {
        const d = def(schema);
        if (d.type === 'object') {
          const child = (d.shape as Record<string, Schema>)[String(segment)];
          return child ? [child] : [];
        }
        if (d.type === 'array') return [d.element as Schema];
        if (d.type === 'record') return [d.valueType as Schema];
        return [];
      });
    value = isRecord(value) || Array.isArray(value) ? (value as Record<PropertyKey, unknown>)[segment as string] : undefined;
  }
  return schemas;
}

/** Keys an object at `path` may have. */
export function allowedKeysAt(root: Schema, data: unknown, path: readonly PropertyKey[]): string[] {
  const value = valueAt(data, path);
  const keys = schemasAt(root, data, path)
    .flatMap((schema) => concrete(schema, value))
    .flatMap((schema) => (def(schema).type === 'object' ? Object.keys(def(schema).shape as object) : []));
  return [...new Set(keys)];
}

/** For a union at `path` with a discriminator: each option's literal and its keys. */
export function unionOptionsAt(root: Schema, data: unknown, path: readonly PropertyKey[]): { name: string; keys: string[] }[] {
  const found: { name: string; keys: string[] }[] = [];
  for (const schema of schemasAt(root, data, path)) {
    let current = schema;
    while (WRAPPERS.has(def(current).type)) current = def(current).innerType as Schema;
    const d = def(current);
    if (d.type !== 'union' || !d.discriminator) continue;
    for (const option of d.options as Schema[]) {
      const name = optionLiteral(option, d.discriminator as string);
      const keys = concrete(option, undefined).flatMap((s) => Object.keys((def(s).shape as object) ?? {}));
      if (name) found.push({ name, keys });
    }
  }
  return found;
}

export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const segment of path) {
    if (!isRecord(value) && !Array.isArray(value)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment as string];
  }
  return value;
}

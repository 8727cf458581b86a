/**
 * Query strings and path segments arrive as text. Bodies are validated strictly (JSON has types), so
 * instead of loose type coercion everywhere, the text values a route's query or params schema types as
 * numbers, booleans or arrays are turned into those before validation; anything else is left for the
 * schema to refuse.
 */
type PropertySchema = { type?: unknown; items?: PropertySchema };

/** Converts `values` in place according to `schema.properties`. */
export function coerceText(
  values: Record<string, unknown>,
  schema: { properties?: Record<string, PropertySchema> },
): void {
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    const value = values[key];
    if (value === undefined) continue;
    if (property.type === 'array') {
      const items = (Array.isArray(value) ? value : [value]).flatMap((v) =>
        typeof v === 'string' ? v.split(',') : [v],
      );
      values[key] = items.map((item) => convert(item, property.items?.type));
    } else {
      values[key] = convert(value, property.type);
    }
  }
}

function convert(value: unknown, type: unknown): unknown {
  if (typeof value !== 'string') return value;
  if ((type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

/**
 * Storable text: every store keeps JSON values losslessly (as JSON text), but names, ids, keys and the
 * JSON columns a store queries must be well-formed Unicode without NUL: PostgreSQL's text and jsonb refuse
 * U+0000, and a lone UTF-16 surrogate cannot be written as UTF-8. Such text is refused at the edge
 * (names, ids) or made storable (error messages), never handed to a store.
 */

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is matched on purpose, to be replaced (stores refuse it)
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Why `text` cannot be stored as text, or undefined when it can. */
export function unstorableReason(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'contains a lone UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

/** `text` with every NUL and lone surrogate replaced by U+FFFD, the replacement character. */
export function storableText(text: string): string {
  return text.replace(UNSTORABLE, '\ufffd');
}

/** A copy of a JSON-like value whose strings and keys are all storable text (see storableText). */
export function storableValue<T>(value: T): T {
  if (typeof value === 'string') return storableText(value) as T;
  if (Array.isArray(value)) return value.map(storableValue) as T;
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[storableText(key)] = storableValue(item);
  return copy as T;
}

/** The first string or key in `value` that is not storable text, as "<path> <reason>"; undefined when all are. */
export function findUnstorable(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') {
    const reason = unstorableReason(value);
    return reason && `${path} ${reason}`;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const where = Array.isArray(value) ? `${path}[${key}]` : `${path}.${storableText(key)}`;
    const reason = unstorableReason(key);
    if (reason && !Array.isArray(value)) return `${path} has a key that ${reason}`;
    const problem = findUnstorable(item, where);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Checks on hostile request input that JSON schemas do not make: nesting deep enough to exhaust the stack,
 * keys that could change object prototypes, and text PostgreSQL cannot store (NUL) or that is not Unicode
 * (lone surrogates). Each problem names the field; nothing has run when one is found.
 */

/** Deepest nesting of arrays and objects a request body may have. (Default: 64) */
export const MAX_JSON_DEPTH = 64;

/** Keys refused anywhere in a body: merging them into an object could change its prototype. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);

/**
 * One problem with a request's input: the field (e.g. 'body.input.__proto__', 'params.id') and what is wrong with it.
 */
export interface InputProblem {
  field: string;
  reason: string;
}

/** A body parsed, or the reason it is refused. */
export type ParsedBody = { ok: true; value: unknown } | { ok: false; problem: InputProblem; syntax?: boolean };

/**
 * Parses a JSON body: nested at most `maxDepth` levels, with no `__proto__` or `constructor` key.
 * `syntax: true` marks text that is not JSON at all (callers that take plain text may keep it as text).
 */
export function parseJsonBody(text: string, maxDepth = MAX_JSON_DEPTH): ParsedBody {
  const depth = nestingDepth(text, maxDepth);
  if (depth > maxDepth)
    return {
      ok: false,
      problem: { field: 'body', reason: `is nested deeper than ${maxDepth} levels of arrays and objects` },
    };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      syntax: true,
      problem: { field: 'body', reason: `is not valid JSON (${(error as Error).message})` },
    };
  }
  const key = forbiddenKey(value, 'body');
  if (key)
    return {
      ok: false,
      problem: {
        field: key,
        reason: 'is a forbidden key: __proto__ and constructor keys are refused (they could change object prototypes)',
      },
    };
  return { ok: true, value };
}

/** How deep arrays and objects nest in JSON text (outside strings); stops counting past `limit`. */
export function nestingDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** The path of the first `__proto__` or `constructor` key in a parsed value, if any. */
export function forbiddenKey(value: unknown, path: string): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = forbiddenKey(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return `${path}.${key}`;
    const found = forbiddenKey((value as Record<string, unknown>)[key], `${path}.${key}`);
    if (found) return found;
  }
  return undefined;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with text used as a name, id or query value: a NUL character, or a lone surrogate. */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(text)) return 'contains a lone surrogate (it is not valid Unicode text)';
  return undefined;
}

/** The first string (or array of strings) among `values` with a text problem, named `<part>.<key>`. */
export function badTextIn(values: unknown, part: string): InputProblem | undefined {
  if (values === null || typeof values !== 'object') return undefined;
  for (const [key, value] of Object.entries(values)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      const reason = typeof item === 'string' ? textProblem(item) : undefined;
      if (reason) return { field: `${part}.${key}`, reason };
    }
    const reason = textProblem(key);
    if (reason) return { field: part, reason: `has a parameter name that ${reason}` };
  }
  return undefined;
}

type Schema = { type?: unknown; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[] };

/**
 * The first string the body schema types as text (names, ids, reasons: not free JSON values, which the
 * engine checks) with a text problem, named by its path ('body.correlationId').
 */
export function badTextInBody(body: unknown, schema: Schema | undefined, path = 'body'): InputProblem | undefined {
  if (!schema || body === null || body === undefined) return undefined;
  if (typeof body === 'string') {
    const typed =
      schema.type === 'string' ||
      (Array.isArray(schema.type) && schema.type.includes('string')) ||
      schema.anyOf?.some((s) => s.type === 'string');
    const reason = typed ? textProblem(body) : undefined;
    return reason ? { field: path, reason } : undefined;
  }
  if (Array.isArray(body)) {
    for (let i = 0; i < body.length; i++) {
      const found = badTextInBody(body[i], schema.items, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof body === 'object' && schema.properties) {
    for (const [key, property] of Object.entries(schema.properties)) {
      const found = badTextInBody((body as Record<string, unknown>)[key], property, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * The first string anywhere in a value (keys too) with a text problem:
 * for definitions, which are names and expressions, not data.
 */
export function badTextAnywhere(value: unknown, path: string): InputProblem | undefined {
  if (typeof value === 'string') {
    const reason = textProblem(value);
    return reason ? { field: path, reason } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [`[${i}]`, v])
    : Object.entries(value).map(([k, v]) => [`.${k}`, v]);
  for (const [key, item] of entries) {
    const keyReason = Array.isArray(value) ? undefined : textProblem(key.slice(1));
    if (keyReason) return { field: path, reason: `has a key that ${keyReason}` };
    const found = badTextAnywhere(item, `${path}${key}`);
    if (found) return found;
  }
  return undefined;
}

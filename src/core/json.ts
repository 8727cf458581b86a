import { WaymarkError } from './errors.js';
import { unstorableReason } from './text.js';
import type { Json } from './types.js';

/**
 * Serialises a value that must survive a trip through the history, or throws `E_NOT_SERIALIZABLE`
 * naming the first offending path. `undefined` at the top stands for "no value" and is kept as such.
 */
export function toJsonText(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  assertJsonSerializable(value, what);
  return JSON.stringify(value);
}

/** Parses history JSON text back to a value; `undefined` stays `undefined`. */
export function fromJsonText(text: string | null | undefined): Json | undefined {
  if (text === null || text === undefined) return undefined;
  return JSON.parse(text) as Json;
}

/** Copies a value the way the history will give it back on replay, so hot and replayed runs see the same. */
export function roundTrip<T>(value: T, what: string): T {
  const text = toJsonText(value, what);
  return (text === undefined ? undefined : JSON.parse(text)) as T;
}

/** Throws `E_NOT_SERIALIZABLE` unless `value` is plain JSON data (Dates are allowed: they become strings). */
export function assertJsonSerializable(value: unknown, what: string): void {
  const problem = findProblem(value, what, new Set());
  if (problem) {
    throw new WaymarkError('E_NOT_SERIALIZABLE', `${problem}: ${what.split(/[.[]/)[0]} must be JSON-serializable`, {
      details: { path: problem.split(' ')[0] },
    });
  }
}

function findProblem(value: unknown, path: string, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}`;
    case 'undefined':
      return undefined; // dropped from objects, like JSON.stringify does
    case 'bigint':
      return `${path} is a bigint`;
    case 'function':
      return `${path} is a function`;
    case 'symbol':
      return `${path} is a symbol`;
  }
  if (value === null) return undefined;
  const object = value as object;
  if (seen.has(object)) return `${path} is a circular reference`;
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? `${path} is an invalid Date` : undefined;
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        const item = object[i];
        if (item === undefined) return `${path}[${i}] is undefined`;
        const problem = findProblem(item, `${path}[${i}]`, seen);
        if (problem) return problem;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (proto?.constructor?.name as string | undefined) ?? 'object';
      return `${path} is a ${kind}, not a plain object`;
    }
    for (const [key, item] of Object.entries(object)) {
      const problem = findProblem(item, `${path}.${key}`, seen);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    seen.delete(object);
  }
}

/** Returns `text`, or throws E_INVALID_INPUT naming `what` when it is not storable text. Nothing is written. */
export function checkStorableText(text: string, what: string): string {
  const reason = unstorableReason(text);
  if (reason)
    throw new WaymarkError('E_INVALID_INPUT', `${what} ${reason}: it cannot be stored`, {
      details: { field: what, reason },
    });
  return text;
}

/** Collecting validation problems, and the field readers that record them instead of stopping at the first. */
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';

export type Raw = Record<string, unknown>;

/** One problem of a rejected definition, as listed in the error's `details.validationErrors`. */
export interface ValidationProblem {
  /** Where: `name`, `tasks[1].forkTasks[0][2].taskReferenceName`; '' for the whole input. */
  path: string;
  message: string;
  invalidValue: Json;
}

/** Collects problems; `error()` turns them into one `E_INVALID_INPUT`. */
export class Problems {
  readonly list: ValidationProblem[] = [];

  add(path: string, message: string, invalidValue: unknown): void {
    this.list.push({ path, message, invalidValue: toJson(invalidValue) });
  }

  any(): boolean {
    return this.list.length > 0;
  }

  error(what: string): WaymarkError {
    const count = this.list.length;
    const text = this.list.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ');
    return new WaymarkError(
      'E_INVALID_INPUT',
      `${what} is invalid (${count} problem${count === 1 ? '' : 's'}): ${text}`,
      {
        details: { validationErrors: this.list as unknown as Json },
      },
    );
  }
}

/** Reads an integer field; absent (or null) gives `fallback`, a bad value is recorded. */
export function readInteger<F extends number | undefined>(
  raw: Raw,
  key: string,
  path: string,
  problems: Problems,
  rule: { min: number; fallback: F },
): number | F {
  const value = raw[key];
  if (!isPresent(value)) return rule.fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < rule.min) {
    problems.add(join(path, key), `${key} must be an integer >= ${rule.min}`, value);
    return rule.fallback;
  }
  return value;
}

/** Reads a boolean field; absent (or null) gives `fallback`. */
export function readBoolean(raw: Raw, key: string, path: string, problems: Problems, fallback: boolean): boolean {
  const value = raw[key];
  if (!isPresent(value)) return fallback;
  if (typeof value !== 'boolean') {
    problems.add(join(path, key), `${key} must be true or false`, value);
    return fallback;
  }
  return value;
}

/** Reads an optional enum field; absent, null or '' gives `fallback`. */
export function optionalEnum<T extends string>(
  raw: Raw,
  key: string,
  path: string,
  problems: Problems,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = raw[key];
  if (!isPresent(value) || value === '') return fallback;
  return checkEnum(value, join(path, key), problems, allowed, '') ? (value as T) : fallback;
}

/** Reads an optional object of JSON values. */
export function readJsonObject(
  raw: Raw,
  key: string,
  path: string,
  problems: Problems,
): Record<string, Json> | undefined {
  const value = raw[key];
  if (!isPresent(value)) return undefined;
  if (!isRecord(value) || !isJson(value)) {
    problems.add(join(path, key), `${key} must be an object of JSON values`, value);
    return undefined;
  }
  return value as Record<string, Json>;
}

/** Reads an optional list of strings. */
export function readStringList(raw: Raw, key: string, path: string, problems: Problems): string[] | undefined {
  const value = raw[key];
  if (!isPresent(value)) return undefined;
  if (!Array.isArray(value)) {
    problems.add(join(path, key), `${key} must be a list of strings`, value);
    return undefined;
  }
  value.forEach((item, index) => {
    if (typeof item !== 'string') problems.add(`${join(path, key)}[${index}]`, `${key} must hold strings only`, item);
  });
  return value.filter((item): item is string => typeof item === 'string');
}

/**
 * Checks a required enum value (absent, null or '' gives the
 * `missing` message); records a problem and says whether it passed.
 */
export function checkEnum(
  value: unknown,
  path: string,
  problems: Problems,
  allowed: readonly string[],
  missing: string,
): boolean {
  const field = path.slice(path.lastIndexOf('.') + 1);
  if (!isPresent(value) || value === '') {
    problems.add(path, missing || `${field} is required: one of ${allowed.join(', ')}`, value);
    return false;
  }
  if (typeof value !== 'string' || !allowed.includes(value)) {
    problems.add(path, `${field} must be one of ${allowed.join(', ')}`, value);
    return false;
  }
  return true;
}

/** `path.key`, or `path["odd key"]` when the key is not a plain identifier. */
export function keyPath(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export function isRecord(value: unknown): value is Raw {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/** Whether a value is a string holding a `${...}` parameter expression. */
export function isExpression(value: unknown): boolean {
  return typeof value === 'string' && value.includes('${');
}

/** null, undefined, '', 0, false, [] or {}. */
export function isZeroValue(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value as object).length === 0;
}

export function isJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJson);
  if (typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && Object.values(value as object).every(isJson);
}

function toJson(value: unknown): Json {
  if (value === undefined) return null;
  return isJson(value) ? (value as Json) : String(value);
}

export function withoutNulls(object: Raw): Raw {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== null && value !== undefined));
}

/** Names of workflows and worker tasks: letters, digits and . _ - : (max 128). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

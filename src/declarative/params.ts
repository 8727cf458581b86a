/**
 * Parameter expressions of Conductor's schema: `${workflow.input.x}`, `${ref.output.y}` and friends, resolved
 * against what a run knows. Pure: paths are walked, never evaluated as code.
 *
 * - A string that is exactly one `${path}` yields the value at the path, typed as it is (null if missing).
 * - `${path}`s inside a longer string are interpolated: strings as they are, numbers and booleans as text,
 *   objects and arrays as JSON, and a missing value (or null) as the empty string.
 * - `$${` stands for a literal `${` (so `$${x}` gives `${x}`); `${}` gives ''; a `${` never closed is literal.
 * - Objects and arrays are resolved recursively; other values are kept as they are.
 */
import type { Json } from '../core/types.js';

/** What `${workflow.*}` reads. Extra fields (status, parentWorkflowId, createTime...) are reachable too. */
export interface WorkflowScope {
  input: Json;
  /** The run's output, once it has one. */
  output?: Json;
  variables: Record<string, Json>;
  workflowId: string;
  correlationId?: string;
  /** The workflow's name. */
  workflowType: string;
  version: number;
  [field: string]: Json | undefined;
}

/** What `${ref.*}` reads for one task (or one DO_WHILE iteration of it, as `ref__2`). */
export interface TaskScope {
  input: Json;
  output: Json;
  status?: string;
  taskId?: string;
  [field: string]: Json | undefined;
}

/** Everything expressions can read while one task's input is resolved. */
export interface ParamScope {
  workflow: WorkflowScope;
  /** Tasks by ref; a DO_WHILE iteration's task is its own entry (`ref__1`, `ref__2`...). */
  tasks: Record<string, TaskScope>;
  /** The id of the task being scheduled, which `${CPEWF_TASK_ID}` yields. (Default: none) */
  taskId?: string;
}

/** Resolves every expression in a task's inputParameters (or a workflow's outputParameters). */
export function resolveParams(inputParameters: Record<string, Json>, scope: ParamScope): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(inputParameters)) out[key] = resolveValue(value, scope);
  return out;
}

/** Resolves the expressions inside any JSON value. */
export function resolveValue(value: Json, scope: ParamScope): Json {
  if (typeof value === 'string') return resolveString(value, scope);
  if (Array.isArray(value)) return value.map((item) => resolveValue(item, scope));
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const [key, item] of Object.entries(value)) out[key] = resolveValue(item, scope);
    return out;
  }
  return value;
}

/** The value at one path (`workflow.input.items[0].id`, `ref.output.result`, `ref__2.status`), or null if missing. */
export function readPath(path: string, scope: ParamScope): Json {
  const trimmed = path.trim().replace(/^\$\./, '');
  if (trimmed === 'CPEWF_TASK_ID') return scope.taskId ?? null;
  const segments = parsePath(trimmed);
  if (!segments || segments.length === 0) return null;
  const [root, ...rest] = segments;
  let current: unknown =
    root === 'workflow'
      ? scope.workflow
      : Object.hasOwn(scope.tasks, root as string)
        ? scope.tasks[root as string]
        : undefined;
  for (const segment of rest) {
    if (typeof segment === 'number') current = Array.isArray(current) ? current[segment] : undefined;
    else if (
      current !== null &&
      typeof current === 'object' &&
      !Array.isArray(current) &&
      Object.hasOwn(current, segment)
    ) {
      current = (current as Record<string, unknown>)[segment];
    } else current = undefined;
    if (current === undefined) return null;
  }
  return current === undefined ? null : (current as Json);
}

/** The task refs a value's expressions read (`${ref.output.x}` gives 'ref'), sorted, `workflow` left out. */
export function referencedRefs(value: Json): string[] {
  const refs = new Set<string>();
  const visit = (item: Json): void => {
    if (typeof item === 'string') {
      for (const piece of splitTemplate(item)) {
        if (typeof piece === 'string') continue;
        const root = parsePath(piece.path.trim().replace(/^\$\./, ''))?.[0];
        if (typeof root === 'string' && root !== 'workflow' && root !== 'CPEWF_TASK_ID') refs.add(root);
      }
    } else if (Array.isArray(item)) item.forEach(visit);
    else if (item !== null && typeof item === 'object') Object.values(item).forEach(visit);
  };
  visit(value);
  return [...refs].sort();
}

type Piece = string | { path: string };

function resolveString(text: string, scope: ParamScope): Json {
  if (!text.includes('${')) return text;
  const pieces = splitTemplate(text);
  const only = pieces[0];
  if (pieces.length === 1 && typeof only !== 'string' && only !== undefined)
    return only.path.trim() === '' ? '' : readPath(only.path, scope);
  return pieces
    .map((piece) =>
      typeof piece === 'string' ? piece : piece.path.trim() === '' ? '' : asText(readPath(piece.path, scope)),
    )
    .join('');
}

/** Splits a string into literal text and `${path}` pieces; `$${` becomes a literal `${`. */
function splitTemplate(text: string): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  let index = 0;
  while (index < text.length) {
    if (text.startsWith('$${', index)) {
      literal += '${';
      index += 3;
    } else if (text.startsWith('${', index)) {
      const end = text.indexOf('}', index + 2);
      if (end === -1) {
        literal += text.slice(index);
        break;
      }
      if (literal) pieces.push(literal);
      literal = '';
      pieces.push({ path: text.slice(index + 2, end) });
      index = end + 1;
    } else {
      literal += text[index];
      index += 1;
    }
  }
  if (literal || pieces.length === 0) pieces.push(literal);
  return pieces;
}

function asText(value: Json): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Splits `a.b[0]['c d'].e` into ['a', 'b', 0, 'c d', 'e']; undefined if malformed. */
function parsePath(path: string): Array<string | number> | undefined {
  const segments: Array<string | number> = [];
  let index = 0;
  while (index < path.length) {
    const char = path[index];
    if (char === '.') {
      if (index === 0 || index === path.length - 1 || path[index + 1] === '.') return undefined;
      index += 1;
    } else if (char === '[') {
      const end = path.indexOf(']', index);
      if (end === -1) return undefined;
      const inner = path.slice(index + 1, end).trim();
      const quoted = /^'(.*)'$|^"(.*)"$/.exec(inner);
      if (quoted) segments.push(quoted[1] ?? quoted[2] ?? '');
      else if (/^\d+$/.test(inner)) segments.push(Number(inner));
      else return undefined;
      index = end + 1;
    } else {
      let end = index;
      while (end < path.length && path[end] !== '.' && path[end] !== '[') end += 1;
      segments.push(path.slice(index, end).trim());
      index = end;
    }
  }
  return segments;
}

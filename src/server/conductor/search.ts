import type { RunStatus } from '../../core/types.js';
import { badRequest } from './errors.js';
import {
  runStatusesOf,
  workflowStatus,
  WORKFLOW_STATUSES,
  type RunFacts,
  type WorkflowStatus,
} from './workflow-shape.js';

/**
 * The `query` of GET /api/workflow/search: clauses `field op value` joined by AND / OR, with parentheses.
 * Operators: = != > >= < <= and IN (a, b); values bare, 'quoted' or "quoted". Fields: workflowType (or
 * workflowName), workflowId, status, version (or workflowVersion), startTime, updateTime, endTime (epoch
 * ms or an ISO date), reasonForIncompletion, correlationId.
 */
export type Query = { all: Query[] } | { any: Query[] } | Clause;

export interface Clause {
  field: string;
  op: '=' | '!=' | '>' | '>=' | '<' | '<=' | 'IN';
  values: string[];
}

const FIELDS = [
  'workflowType',
  'workflowId',
  'status',
  'version',
  'startTime',
  'updateTime',
  'endTime',
  'reasonForIncompletion',
  'correlationId',
] as const;
type Field = (typeof FIELDS)[number];
const ALIASES: Record<string, Field> = {
  workflowName: 'workflowType',
  workflowVersion: 'version',
  createTime: 'startTime',
};
const TIMES: Field[] = ['startTime', 'updateTime', 'endTime'];

/** Deepest nesting of parentheses in a query. */
export const MAX_QUERY_DEPTH = 32;

/** The fields a query may name, their aliases, and a check of each clause's values. */
export interface QueryFields {
  names: readonly string[];
  aliases: Record<string, string>;
  check(clause: Clause, fail: (why: string) => never): Clause;
}

const WORKFLOW_FIELDS: QueryFields = { names: FIELDS, aliases: ALIASES, check };

/**
 * Parses a query over `fields` (a workflow search's by default); an empty one matches everything. Bad syntax (or
 * parentheses nested deeper than MAX_QUERY_DEPTH) is 400 naming `query`.
 */
export function parseQuery(text: string | undefined, fields: QueryFields = WORKFLOW_FIELDS): Query {
  const tokens = tokenize(text ?? '');
  if (tokens.length === 0) return { all: [] };
  let i = 0;
  let depth = 0;
  const fail = (why: string): never => {
    throw badRequest('query', `query: ${why}`, text);
  };
  const peek = () => tokens[i];
  const word = (w: string) => peek()?.kind === 'word' && peek()!.text.toUpperCase() === w;
  const or = (): Query => {
    const parts = [and()];
    while (word('OR')) {
      i++;
      parts.push(and());
    }
    return parts.length === 1 ? parts[0]! : { any: parts };
  };
  const and = (): Query => {
    const parts = [primary()];
    while (word('AND')) {
      i++;
      parts.push(primary());
    }
    return parts.length === 1 ? parts[0]! : { all: parts };
  };
  const value = (): string => {
    const t = tokens[i++];
    if (!t || (t.kind !== 'word' && t.kind !== 'quoted'))
      fail(`a value is missing at the end or before '${t?.text ?? ''}'`);
    return t!.text;
  };
  const primary = (): Query => {
    if (peek()?.text === '(' && peek()?.kind === 'punct') {
      i++;
      if (++depth > MAX_QUERY_DEPTH) fail(`parentheses are nested deeper than ${MAX_QUERY_DEPTH} levels`);
      const inner = or();
      if (tokens[i++]?.text !== ')') fail('a ")" is missing');
      depth--;
      return inner;
    }
    const name = tokens[i++];
    if (name?.kind !== 'word') fail(`a field name is expected${name ? ` at '${name.text}'` : ' at the end'}`);
    const field =
      (Object.hasOwn(fields.aliases, name!.text) ? fields.aliases[name!.text] : undefined) ??
      (fields.names.includes(name!.text)
        ? name!.text
        : fail(`unknown field '${name!.text}' (fields: ${fields.names.join(', ')})`));
    const op = tokens[i++];
    if (op?.kind === 'word' && op.text.toUpperCase() === 'IN') {
      if (tokens[i++]?.text !== '(') fail(`IN needs a list: ${name!.text} IN (a, b)`);
      const values = [value()];
      while (peek()?.text === ',') {
        i++;
        values.push(value());
      }
      if (tokens[i++]?.text !== ')') fail('a ")" is missing after the IN list');
      return fields.check({ field, op: 'IN', values }, fail);
    }
    if (op?.kind !== 'op') fail(`an operator (=, !=, >, >=, <, <=, IN) is expected after '${name!.text}'`);
    return fields.check({ field, op: op!.text as Clause['op'], values: [value()] }, fail);
  };
  const query = or();
  if (i < tokens.length) fail(`unexpected '${tokens[i]!.text}'`);
  return query;
}

function check(clause: Clause, fail: (why: string) => never): Clause {
  if (clause.field === 'status') {
    for (const v of clause.values)
      if (!WORKFLOW_STATUSES.includes(v.toUpperCase() as WorkflowStatus))
        fail(`unknown status '${v}' (statuses: ${WORKFLOW_STATUSES.join(', ')})`);
  }
  if (TIMES.includes(clause.field as Field) || clause.field === 'version') {
    for (const v of clause.values)
      if (Number.isNaN(toNumber(clause.field as Field, v)))
        fail(
          `${clause.field} needs ${clause.field === 'version' ? 'a number' : 'epoch ms or an ISO date'}, got '${v}'`,
        );
  }
  return clause;
}

type Token = { kind: 'word' | 'quoted' | 'op' | 'punct'; text: string };

function tokenize(query: string): Token[] {
  const text = query.trim();
  const tokens: Token[] = [];
  const pattern = /\s*(?:(>=|<=|!=|<>|=|>|<)|([(),])|'([^']*)'|"([^"]*)"|([^\s(),=<>!'"]+))/y;
  for (let at = 0; at < text.length; at = pattern.lastIndex) {
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (!match) throw badRequest('query', `query: cannot read '${text.slice(at).trim()}'`, query);
    if (match[1]) tokens.push({ kind: 'op', text: match[1] === '<>' ? '!=' : match[1] });
    else if (match[2]) tokens.push({ kind: 'punct', text: match[2] });
    else if (match[3] !== undefined || match[4] !== undefined)
      tokens.push({ kind: 'quoted', text: match[3] ?? match[4]! });
    else tokens.push({ kind: 'word', text: match[5]! });
  }
  return tokens;
}

/** A clause value as a number: epoch ms, or an ISO date (NaN when neither; `version` takes numbers only). */
export function toNumber(field: string, value: string): number {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return field === 'version' ? NaN : Date.parse(value);
}

/** The value a run has for a field (undefined: none, which matches only `!=`). */
function fieldValue(run: RunFacts, field: Field): string | number | undefined {
  switch (field) {
    case 'workflowType':
      return run.workflow;
    case 'workflowId':
      return run.id;
    case 'status':
      return workflowStatus(run);
    case 'version':
      return run.version;
    case 'startTime':
      return run.createdAt.getTime();
    case 'updateTime':
      return run.updatedAt.getTime();
    case 'endTime':
      return workflowStatus(run) === 'RUNNING' ? undefined : run.updatedAt.getTime();
    case 'reasonForIncompletion':
      return (run.status === 'needs_attention' ? run.attention : run.error)?.message;
    case 'correlationId':
      return run.correlationId;
  }
}

/** Whether the run matches the query. */
export function matches(run: RunFacts, query: Query): boolean {
  return matchesWith(query, (field) => fieldValue(run, field as Field), ['status']);
}

/**
 * Whether the query holds for the values `valueFor` gives (undefined: none, which matches only `!=`); values of the
 * `upperCased` fields are compared in upper case.
 */
export function matchesWith(
  query: Query,
  valueFor: (field: string) => string | number | undefined,
  upperCased: readonly string[] = [],
): boolean {
  if ('all' in query) return query.all.every((q) => matchesWith(q, valueFor, upperCased));
  if ('any' in query) return query.any.some((q) => matchesWith(q, valueFor, upperCased));
  const actual = valueFor(query.field);
  const numeric = typeof actual === 'number';
  const wanted = query.values.map((v) =>
    numeric ? toNumber(query.field, v) : upperCased.includes(query.field) ? v.toUpperCase() : v,
  );
  if (query.op === '!=') return actual === undefined || !wanted.includes(actual);
  if (actual === undefined) return false;
  if (query.op === '=' || query.op === 'IN') return wanted.includes(actual);
  const [w] = wanted as (string | number)[];
  if (query.op === '>') return actual > w!;
  if (query.op === '>=') return actual >= w!;
  if (query.op === '<') return actual < w!;
  return actual <= w!;
}

/**
 * What the query's top-level AND says for sure about workflows and statuses: to narrow the runs read from the store.
 */
export function narrowing(query: Query): { workflows?: string[]; statuses?: RunStatus[] } {
  const clauses = 'all' in query ? query.all : [query];
  const result: { workflows?: string[]; statuses?: RunStatus[] } = {};
  for (const c of clauses) {
    if (!('field' in c) || (c.op !== '=' && c.op !== 'IN')) continue;
    if (c.field === 'workflowType')
      result.workflows = result.workflows ? result.workflows.filter((w) => c.values.includes(w)) : [...c.values];
    if (c.field === 'status') {
      const statuses = [...new Set(c.values.flatMap((v) => runStatusesOf(v.toUpperCase() as WorkflowStatus)))];
      result.statuses = result.statuses ? result.statuses.filter((s) => statuses.includes(s)) : statuses;
    }
  }
  return result;
}

/**
 * `freeText` as the words the store looks for ('*' wildcards dropped; nothing or '*' matches all): each must
 * appear in the run's id, workflow, correlation id, error, or an input or output of at most 64 KiB.
 */
export function freeTextWords(freeText: string | undefined): string[] {
  return (freeText ?? '')
    .split(/\s+/)
    .map((w) => w.replace(/\*/g, ''))
    .filter((w) => w !== '')
    .slice(0, MAX_FREE_TEXT_WORDS);
}

/** Most free-text words a search looks for; later ones are ignored. */
const MAX_FREE_TEXT_WORDS = 20;

const SORTABLE: Record<string, (run: RunFacts) => string | number> = {
  startTime: (r) => r.createdAt.getTime(),
  createTime: (r) => r.createdAt.getTime(),
  updateTime: (r) => r.updatedAt.getTime(),
  endTime: (r) => (workflowStatus(r) === 'RUNNING' ? 0 : r.updatedAt.getTime()),
  workflowId: (r) => r.id,
  workflowType: (r) => r.workflow,
  status: (r) => workflowStatus(r),
  version: (r) => r.version,
};

/** `sort=field:ASC|DESC` (several allowed, comma-separated or repeated) as a comparator; default: newest first. */
export function sorter(sort: string[]): (a: RunFacts, b: RunFacts) => number {
  const keys = sort
    .flatMap((s) => s.split(','))
    .filter((s) => s.trim() !== '')
    .map((s) => {
      const [field, direction = 'ASC'] = s.trim().split(':');
      const key = Object.hasOwn(SORTABLE, field!) ? SORTABLE[field!] : undefined;
      if (!key) throw badRequest('sort', `cannot sort by '${field}' (fields: ${Object.keys(SORTABLE).join(', ')})`, s);
      const dir = direction.toUpperCase();
      if (dir !== 'ASC' && dir !== 'DESC')
        throw badRequest('sort', `sort direction must be ASC or DESC, got '${direction}'`, s);
      return { key, sign: dir === 'ASC' ? 1 : -1 };
    });
  if (keys.length === 0) keys.push({ key: SORTABLE.startTime!, sign: -1 });
  return (a, b) => {
    for (const { key, sign } of keys) {
      const x = key(a);
      const y = key(b);
      if (x < y) return -sign;
      if (x > y) return sign;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  };
}

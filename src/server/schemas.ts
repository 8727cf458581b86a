/**
 * JSON Schemas of the API's requests and responses. Response shapes live here once, as the OpenAPI
 * document's components; routes point at them with `ref('Run')`. Request schemas are self-contained.
 */
import { MAX_DURATION_MS } from '../core/duration.js';
import { RUN_STATUSES } from '../core/types.js';
import { MAX_VERSION } from '../runtime/workflow.js';

type Schema = Record<string, unknown>;

/** A reference to a component schema of the OpenAPI document. */
export function ref(name: keyof typeof components): Schema {
  return { $ref: `#/components/schemas/${name}` };
}

const r = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** An object schema: the listed properties, `required` among them, nothing else. */
export function object(properties: Record<string, Schema>, required: string[] = [], description?: string): Schema {
  return { type: 'object', properties, required, additionalProperties: false, ...(description ? { description } : {}) };
}

/** A response `{ <key>: [<component>] }`. */
export function listOf(key: string, component: keyof typeof components): Schema {
  return { type: 'object', required: [key], properties: { [key]: { type: 'array', items: ref(component) } } };
}

const json: Schema = { description: 'any JSON value' };
const dateTime: Schema = { type: 'string', format: 'date-time' };
const epochMs: Schema = { type: 'integer', description: 'epoch ms' };
const loose = (properties: Record<string, Schema>, required: string[] = [], description?: string): Schema => ({
  type: 'object',
  properties,
  required,
  ...(description ? { description } : {}),
});

/** The workflow name rule of defineWorkflow. */
export const workflowName: Schema = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$',
  description: 'workflow name',
};
export const runId: Schema = { type: 'string', minLength: 1, maxLength: 200, description: 'run id' };
export const version: Schema = { type: 'integer', minimum: 1, maximum: MAX_VERSION, description: 'workflow version' };
export const percent: Schema = { type: 'number', minimum: 0, maximum: 100 };
/**
 * A duration: ms, or text like '500ms', '30s', '1h30m'. A union's `title` says what it expects in validation errors.
 */
export const duration: Schema = {
  anyOf: [
    { type: 'integer', minimum: 0, maximum: MAX_DURATION_MS },
    { type: 'string', maxLength: 100, pattern: '^\\s*(\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)\\s*)+$' },
  ],
  title: "ms (at most 100 years), or a duration like '30s', '1m', '2h', '3d'",
};
export const actor: Schema = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  description:
    'who acts, recorded in the history (default: the OS user of the server); on a server with auth the key ' +
    'that authenticated is the actor, and this is kept in the reason as a note',
};
export const reason: Schema = {
  type: 'string',
  maxLength: 2000,
  description: "why, recorded in the history (default: '(no reason given)')",
};
export const runStatus: Schema = { type: 'string', enum: [...RUN_STATUSES] };

const errorInfo = loose(
  {
    name: { type: 'string' },
    message: { type: 'string' },
    code: { type: 'string' },
    details: json,
    stack: { type: 'string' },
  },
  ['name', 'message'],
);
const operation = loose({ kind: { type: 'string' }, name: { type: 'string' } }, ['kind', 'name']);

/** What a run shows of where it is, in its full form and in lists alike. */
const runState = {
  error: r('ErrorInfo'),
  waitingFor: r('WaitInfo'),
  attention: r('ErrorInfo'),
  expiresAt: dateTime,
  lockKey: { type: 'string' },
  correlationId: { type: 'string' },
  epoch: { type: 'integer' },
  createdAt: dateTime,
  updatedAt: dateTime,
};

/** Component schemas of the OpenAPI document, by name. */
export const components = {
  Error: loose(
    {
      code: { type: 'string', description: 'stable code, e.g. E_RUN_NOT_FOUND' },
      message: { type: 'string' },
      field: { type: 'string', description: "the bad input, e.g. 'body.version' or 'query.limit'" },
      reason: { type: 'string', description: 'what is wrong with that field' },
      details: json,
    },
    ['code', 'message'],
  ),
  ErrorInfo: errorInfo,
  WaitInfo: loose(
    {
      kind: { type: 'string', enum: ['sleep', 'signal', 'retry', 'lock'] },
      name: { type: 'string' },
      seq: { type: 'integer' },
      until: epochMs,
      signals: { type: 'array', items: { type: 'string' } },
    },
    ['kind'],
  ),
  Run: loose(
    {
      id: { type: 'string' },
      workflow: { type: 'string' },
      version: { type: 'integer' },
      status: runStatus,
      input: json,
      output: json,
      ...runState,
    },
    ['id', 'workflow', 'version', 'status', 'input', 'epoch', 'createdAt', 'updatedAt'],
    'one execution of one workflow version',
  ),
  RunSummary: loose(
    {
      id: { type: 'string' },
      workflow: { type: 'string' },
      version: { type: 'integer' },
      status: runStatus,
      input: { description: 'only when the list was asked to include it' },
      output: { description: 'only when the list was asked to include it' },
      inputSize: { type: 'integer', description: 'bytes of the stored input JSON' },
      outputSize: { type: 'integer', description: 'bytes of the stored output JSON (0: none)' },
      ...runState,
    },
    ['id', 'workflow', 'version', 'status', 'inputSize', 'outputSize', 'epoch', 'createdAt', 'updatedAt'],
    'a run as lists show it: without its input and output unless they were included',
  ),
  HistoryEvent: loose(
    {
      pos: { type: 'integer' },
      epoch: { type: 'integer' },
      type: { type: 'string' },
      seq: { type: 'integer' },
      name: { type: 'string' },
      at: epochMs,
      data: json,
    },
    ['pos', 'type', 'at'],
  ),
  RunDescription: loose(
    {
      run: r('Run'),
      where: { type: 'string' },
      current: loose(
        {
          kind: { type: 'string' },
          name: { type: 'string' },
          seq: { type: 'integer' },
          attempt: { type: 'integer' },
          attempts: { type: 'integer' },
        },
        ['kind', 'name'],
      ),
      effects: {
        type: 'array',
        items: loose({
          step: { type: 'string' },
          seq: { type: 'integer' },
          effect: { type: 'string' },
          completedAt: epochMs,
          state: { type: 'string' },
        }),
      },
      pending: { type: 'array', items: { type: 'string' } },
      actions: {
        type: 'array',
        items: { type: 'string', enum: ['retry_step', 'skip_step', 'compensate', 'cancel', 'resume'] },
      },
      completedSteps: { type: 'array', items: { type: 'string' } },
      lease: loose(
        {
          workerId: { type: 'string' },
          expiresAt: epochMs,
          holderAlive: { type: 'boolean', description: 'false: its worker stopped heartbeating' },
          heartbeatAt: epochMs,
          servedBy: { type: 'integer', description: 'live workers serving its version (to take the run over)' },
        },
        ['workerId', 'expiresAt', 'holderAlive', 'servedBy'],
        "the run's lease, while a worker holds one",
      ),
    },
    ['run', 'where', 'effects', 'pending', 'actions', 'completedSteps'],
  ),
  RunResult: loose(
    { runId: { type: 'string' }, status: runStatus, output: json, error: r('ErrorInfo') },
    ['runId', 'status'],
    'a finished run: its output when completed, its error otherwise',
  ),
  OperatorResult: loose(
    { run: r('Run'), applied: { type: 'boolean', description: 'false: handed to the worker executing the run' } },
    ['run', 'applied'],
  ),
  ReplayVerdict: loose(
    {
      ok: { type: 'boolean' },
      replayed: { type: 'integer' },
      oldBranches: { type: 'array', items: { type: 'string' } },
      frontier: { description: "'end', or the first operation the history cannot answer { seq, kind, name }" },
      reason: { type: 'string', enum: ['divergence', 'schema_mismatch', 'error'] },
      divergence: loose({ seq: { type: 'integer' }, expected: operation, got: operation }),
      message: { type: 'string' },
    },
    ['ok'],
  ),
  UpgradeResult: loose(
    {
      run: r('Run'),
      applied: { type: 'boolean' },
      verdict: r('ReplayVerdict'),
      history: { type: 'array', items: r('HistoryEvent') },
      warnings: {
        type: 'array',
        items: { type: 'string' },
        description: 'what the operator should know, e.g. that no live worker serves the target version (stranded)',
      },
    },
    ['run', 'applied', 'verdict', 'history', 'warnings'],
  ),
  MigrateReport: loose(
    {
      migration: { type: 'string' },
      dryRun: { type: 'boolean' },
      migrated: { type: 'array', items: { type: 'string' } },
      refused: {
        type: 'array',
        items: loose({ runId: { type: 'string' }, code: { type: 'string' }, reason: { type: 'string' } }),
      },
      failed: {
        type: 'array',
        items: loose({ runId: { type: 'string' }, code: { type: 'string' }, reason: { type: 'string' } }),
      },
      warnings: {
        type: 'array',
        items: { type: 'string' },
        description: 'what the operator should know, e.g. that no live worker serves the target version (stranded)',
      },
    },
    ['migration', 'dryRun', 'migrated', 'refused', 'failed', 'warnings'],
  ),
  VersionSummary: loose(
    {
      workflow: { type: 'string' },
      version: { type: 'integer' },
      fingerprint: { type: 'string' },
      registeredAt: dateTime,
      status: { type: 'string', enum: ['active', 'draining', 'retired'] },
      runs: { type: 'object', additionalProperties: { type: 'integer' }, description: 'run counts by status' },
      inFlight: { type: 'integer' },
      parkedOn: { type: 'object', additionalProperties: { type: 'integer' } },
      oldestInFlightAt: dateTime,
      nextWakeAt: dateTime,
      drainEta: dateTime,
      servedBy: { type: 'array', items: { type: 'string' } },
      stranded: { type: 'integer' },
      routeShare: { type: 'number', description: "percent (0..100) of its workflow's routed starts it takes now" },
      safeToRetire: { type: 'boolean', description: 'draining with nothing in flight' },
      schedules: {
        type: 'array',
        items: { type: 'string' },
        description:
          'ids of the active schedules that start it: pinned to it, or unpinned while it takes a share of the routed ' +
          'starts',
      },
    },
    [
      'workflow',
      'version',
      'fingerprint',
      'status',
      'runs',
      'inFlight',
      'servedBy',
      'stranded',
      'routeShare',
      'safeToRetire',
      'schedules',
    ],
  ),
  VersionState: loose(
    {
      workflow: { type: 'string' },
      version: { type: 'integer' },
      status: { type: 'string', enum: ['active', 'draining', 'retired'] },
      schedules: {
        type: 'array',
        items: { type: 'string' },
        description: 'drain: the active schedules pinned to it, which still feed it (their firings start no run)',
      },
      warning: { type: 'string', description: 'drain: what the pinned schedules will do' },
    },
    ['workflow', 'version', 'status'],
  ),
  PatchUsage: loose(
    {
      workflow: { type: 'string' },
      patch: { type: 'string' },
      firstSeenAt: epochMs,
      patched: { type: 'integer' },
      onOldBranch: { type: 'integer' },
    },
    ['workflow', 'patch', 'patched', 'onOldBranch'],
  ),
  WorkerRecord: loose(
    {
      workerId: { type: 'string' },
      served: { type: 'array', items: loose({ workflow: { type: 'string' }, version: { type: 'integer' } }) },
      startedAt: dateTime,
      heartbeatAt: dateTime,
    },
    ['workerId', 'served'],
  ),
  Route: loose({ current: { type: 'integer' }, candidate: { type: 'integer' }, percent: { type: 'number' } }, [
    'current',
    'candidate',
    'percent',
  ]),
  Rollout: loose(
    {
      workflow: { type: 'string' },
      from: { type: 'integer' },
      to: { type: 'integer' },
      percent: { type: 'number' },
      step: { type: 'number' },
      everyMs: { type: 'integer' },
      maxFailureRatio: { type: 'number' },
      minSample: { type: 'integer' },
      status: { type: 'string', enum: ['running', 'paused', 'promoted', 'rolled_back'] },
      startedAt: epochMs,
      lastStepAt: epochMs,
      outcome: { type: 'string' },
      movedBack: { type: 'array', items: { type: 'string' } },
      keptOnCandidate: { type: 'array', items: { type: 'string' } },
    },
    ['workflow', 'from', 'to', 'percent', 'status'],
  ),
  AuditEntry: loose(
    {
      at: dateTime,
      actor: { type: 'string', description: "the key that acted: 'key:<keyId> (<name>)'" },
      keyId: { type: 'string' },
      action: { type: 'string', description: "the route, e.g. 'POST /v1/workflows/:name/versions/:version/drain'" },
      target: { type: 'string', description: 'the path it was called with' },
      status: { type: 'integer', description: 'the HTTP status answered' },
      note: { type: ['string', 'null'], description: 'what the caller said besides (the actor it gave)' },
    },
    ['at', 'actor', 'keyId', 'action', 'target', 'status'],
  ),
} satisfies Record<string, Schema>;

/** Error responses a route documents, each the Error component. */
export function errors(...codes: number[]): Record<number, Schema> {
  const described: Record<number, string> = {
    400: 'bad input: nothing was written',
    404: 'no such run, workflow or version',
    408: 'the run did not finish in time',
    409: "refused: the run's or version's state does not allow it",
  };
  return Object.fromEntries(codes.map((code) => [code, { description: described[code] ?? 'error', ...ref('Error') }]));
}

import { createHash } from 'node:crypto';
import { WaymarkError } from '../../core/errors.js';
import { isTerminal, type Json, type Run } from '../../core/types.js';
import type { Engine, StartOptions } from '../../engine.js';
import {
  checkJqQueries,
  compileWorkflowDef,
  declarativeSupport,
  type DeclarativeSupport,
} from '../../declarative/compile.js';
import type { WorkflowDefinition } from '../../runtime/workflow.js';
import { definitionFingerprint, parseWorkflowDef, type WorkflowDef } from '../../declarative/definitions.js';
import { MAX_VERSION } from '../../runtime/workflow.js';
import { badRequest, conflict } from './errors.js';
import { bodyObject, checkedText, objectField } from './replies.js';

/** A StartWorkflowRequest, checked. */
export interface StartRequest {
  name: string;
  /** Absent: the latest (routed) version. */
  version?: number;
  input: Json;
  correlationId?: string;
  priority: number;
  idempotencyKey?: string;
  idempotencyStrategy: 'FAIL' | 'RETURN_EXISTING' | 'FAIL_ON_RUNNING';
  /** An inline (ephemeral) definition to run instead of a registered one. (Default: none) */
  workflowDef?: WorkflowDef;
  /** Task type (or `*`) -> domain. */
  taskToDomain?: Record<string, string>;
}

/** What marks the workflow name an ephemeral definition is registered under: `<name>:ephemeral:<fingerprint>`. */
const EPHEMERAL = ':ephemeral:';
/** Longest name an inline definition may have (its registered name adds the marker and fingerprint). */
const MAX_INLINE_NAME = 100;

/** The name Conductor shows for a run's workflow: an ephemeral definition's own name. */
export function conductorWorkflowName(workflow: string): string {
  const at = workflow.lastIndexOf(EPHEMERAL);
  return at > 0 ? workflow.slice(0, at) : workflow;
}

/** An inline workflowDef, parsed: its problems are 400s with paths under `workflowDef.`. */
function inlineDef(json: unknown, name: unknown): WorkflowDef {
  const isObject = json !== null && typeof json === 'object' && !Array.isArray(json);
  const withName = isObject && !(json as Record<string, Json>).name ? { ...(json as object), name } : json;
  let def: WorkflowDef;
  try {
    def = parseWorkflowDef(withName);
  } catch (error) {
    if (!(error instanceof WaymarkError)) throw error;
    const problems = (error.details as { validationErrors?: { path: string; message: string; invalidValue: Json }[] })
      ?.validationErrors;
    const first = problems?.[0];
    throw badRequest(
      first ? `workflowDef${first.path ? `.${first.path}` : ''}` : 'workflowDef',
      `workflowDef: ${first ? error.message : 'is invalid'}`,
      first?.invalidValue ?? null,
    );
  }
  if (def.name.length > MAX_INLINE_NAME)
    throw badRequest(
      'workflowDef.name',
      `an inline workflowDef's name may have at most ${MAX_INLINE_NAME} characters`,
      def.name,
    );
  return def;
}

const STRATEGIES = ['FAIL', 'RETURN_EXISTING', 'FAIL_ON_RUNNING'] as const;

/** Reads a StartWorkflowRequest body; `name`/`version` from the path take precedence. Unknown fields are ignored. */
export function startRequestOf(body: unknown, path: { name?: string; version?: number } = {}): StartRequest {
  const b = bodyObject(body, 'a StartWorkflowRequest');
  const name = checkedText(path.name ?? b.name, 'name');
  if (typeof name !== 'string' || name === '') throw badRequest('name', 'name is required', name);
  checkedText(b.correlationId, 'correlationId');
  checkedText(b.idempotencyKey, 'idempotencyKey');
  const workflowDef =
    b.workflowDef === undefined || b.workflowDef === null ? undefined : inlineDef(b.workflowDef, name);
  const version = path.version ?? b.version;
  if (
    version !== undefined &&
    version !== null &&
    !(Number.isInteger(version) && (version as number) >= 1 && (version as number) <= MAX_VERSION)
  ) {
    throw badRequest('version', `version must be an integer from 1 to ${MAX_VERSION}`, version);
  }
  const priority = b.priority ?? 0;
  if (!(Number.isInteger(priority) && (priority as number) >= 0 && (priority as number) <= 99))
    throw badRequest('priority', 'priority must be an integer from 0 to 99', priority);
  const strategy =
    b.idempotencyStrategy === undefined || b.idempotencyStrategy === null || b.idempotencyStrategy === ''
      ? 'FAIL'
      : b.idempotencyStrategy;
  if (!STRATEGIES.includes(strategy as StartRequest['idempotencyStrategy']))
    throw badRequest('idempotencyStrategy', `idempotencyStrategy must be one of ${STRATEGIES.join(', ')}`, strategy);
  const request: StartRequest = {
    name,
    input: (b.input ?? {}) as Json,
    priority: priority as number,
    idempotencyStrategy: strategy as StartRequest['idempotencyStrategy'],
  };
  if (typeof version === 'number') request.version = version;
  if (typeof b.correlationId === 'string' && b.correlationId !== '') request.correlationId = b.correlationId;
  if (typeof b.idempotencyKey === 'string' && b.idempotencyKey !== '') request.idempotencyKey = b.idempotencyKey;
  if (workflowDef) {
    request.workflowDef = workflowDef;
    request.version = workflowDef.version;
  }
  const domains = objectField(b, 'taskToDomain');
  if (domains !== undefined) {
    for (const [type, domain] of Object.entries(domains)) {
      if (typeof domain !== 'string')
        throw badRequest(`taskToDomain.${type}`, `taskToDomain.${type} must be a domain name (a string)`, domain);
      checkedText(type, 'taskToDomain');
      checkedText(domain, `taskToDomain.${type}`);
    }
    if (Object.keys(domains).length) request.taskToDomain = domains as Record<string, string>;
  }
  return request;
}

/**
 * Starts the run (continuing the caller's trace, when `traceparent` names it). With an idempotencyKey the run id
 * is derived from workflow name and key, so the same key always names the same run: RETURN_EXISTING answers it,
 * FAIL (the default) refuses (409), FAIL_ON_RUNNING refuses while it runs — and afterwards too, as that id is taken
 * for good.
 */
export async function startWorkflow(engine: Engine, given: StartRequest, traceparent?: string): Promise<Run> {
  const request = given.workflowDef ? await registerEphemeral(engine, given, given.workflowDef) : given;
  const options: StartOptions = {
    version: request.version,
    trigger: 'conductor',
    ...(request.correlationId !== undefined ? { correlationId: request.correlationId } : {}),
    ...(traceparent !== undefined ? { traceparent } : {}),
    startOptions: {
      ...(request.priority ? { priority: request.priority } : {}),
      ...(request.taskToDomain ? { taskToDomain: request.taskToDomain } : {}),
      ...(request.idempotencyKey !== undefined
        ? { idempotencyKey: request.idempotencyKey, idempotencyStrategy: request.idempotencyStrategy }
        : {}),
    },
  };
  if (request.idempotencyKey === undefined) return engine.start(request.name, request.input, options);
  const id = idempotentRunId(request.name, request.idempotencyKey);
  const existing = await findRun(engine, id); // answered without a start: its version may take no starts now
  if (existing) return startedBefore(request, existing);
  const { run, created } = await engine.startRun(request.name, request.input, { ...options, id });
  return created ? run : startedBefore(request, run); // the same key started it meanwhile
}

/** The run a start's idempotencyKey names existed: RETURN_EXISTING gives it, the other strategies refuse (409). */
function startedBefore(request: StartRequest, existing: Run): Run {
  if (request.idempotencyStrategy === 'RETURN_EXISTING') return existing;
  const started = `workflow '${existing.id}' was started with idempotencyKey '${request.idempotencyKey}'`;
  throw conflict(
    request.idempotencyStrategy === 'FAIL_ON_RUNNING' && isTerminal(existing.status)
      ? `${started} and is over; a key names one workflow for good: use another key`
      : `workflow '${existing.id}' was already started with idempotencyKey '${request.idempotencyKey}'`,
  );
}

/** A UUID-shaped id, the same for the same workflow name and key. */
export function idempotentRunId(name: string, key: string): string {
  const hex = createHash('sha256').update(`${name}\u0000${key}`).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const parts = [
    hex.slice(0, 8),
    hex.slice(8, 12),
    `8${hex.slice(13, 16)}`,
    `${variant}${hex.slice(17, 20)}`,
    hex.slice(20, 32),
  ];
  return parts.join('-');
}

/** The run, or undefined when there is none with that id. */
export async function findRun(engine: Engine, id: string): Promise<Run | undefined> {
  try {
    return await engine.getRun(id);
  } catch (error) {
    if (error instanceof WaymarkError && error.code === 'E_RUN_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * An inline definition is run as Conductor runs it, without becoming a version of its name: it is registered as
 * version `version` of `<name>:ephemeral:<fingerprint>` (stored, so replay, restarts and upgrades of its runs stay
 * exact), and the same definition sent again is the same version. Conductor's surface shows its own name.
 */
async function registerEphemeral(engine: Engine, request: StartRequest, def: WorkflowDef): Promise<StartRequest> {
  await checkJqQueries(def);
  const name = `${def.name}${EPHEMERAL}${definitionFingerprint(def)}`;
  const source = { ...def, name } as unknown as Json;
  const stored = { workflow: name, version: def.version, source };
  let compiled: WorkflowDefinition;
  try {
    compiled = engine.definitions.compileSource(stored);
  } catch (error) {
    if (!(error instanceof WaymarkError) || !/compiles no declarative/.test(error.message)) throw error;
    compiled = compileWorkflowDef(parseWorkflowDef(source), (await supportFor(engine)).env);
  }
  await engine.definitions.register([compiled]);
  const { workflowDef: _def, ...rest } = request;
  return { ...rest, name, version: def.version };
}

const supports = new WeakMap<Engine, Promise<DeclarativeSupport>>();

/** For an engine opened without a compiler: the declarative support its inline definitions run with, made once. */
function supportFor(engine: Engine): Promise<DeclarativeSupport> {
  let support = supports.get(engine);
  if (!support) {
    support = declarativeSupport().then((made) => {
      made.bind(engine);
      return made;
    });
    supports.set(engine, support);
  }
  return support;
}

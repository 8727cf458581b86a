import { NonRetryableError, type WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import type { WorkflowContext } from '../runtime/workflow.js';
import { NAME_PATTERN } from './definition-checks.js';
import {
  effectiveTaskDef,
  retryDelayMs,
  type DecisionTask,
  type DoWhileTask,
  type ForkJoinDynamicTask,
  type SwitchTask,
  type TaskDef,
  type WorkflowDef,
  type WorkflowTask,
} from './definitions.js';
import { flattenTasks } from './diff.js';
import { callHttp } from './http-task.js';
import { childRunId, SUB_WORKFLOW_TASK, WATCH_LEASE_MS } from './sub-workflows.js';
import { direct, runInLockstep, type Operation } from './lockstep.js';
import { resolveLimits, type DeclarativeLimits } from './limits.js';
import { resolveParams, resolveValue, type ParamScope, type TaskScope } from './params.js';
import { limitExceeded, refusal } from './refusals.js';
import type { ExpressionEvaluator, ExpressionLanguage } from './sandbox-pool.js';
import { forkPlan, lambdaScript, startFailure, startWorkflowRequest, type ForkPlan } from './system-tasks.js';
import { parseWaitDuration, parseWaitUntil } from './wait-time.js';

/** What declarative runs need from the process that executes them. */
export interface DeclarativeEnv {
  sandbox: ExpressionEvaluator;
  /** What runs may make the engine do. (Default: the defaults of DeclarativeOptions) */
  limits?: DeclarativeLimits;
  /** A registered task definition (retries, timeouts) by task name. */
  taskDef(name: string): TaskDef | undefined;
  /**
   * Starts a run (a failureWorkflow) with a given id; resolves with
   * its id. (Default: none: failure workflows are not started)
   */
  start?(
    workflow: string,
    input: Json,
    id: string,
    options?: { version?: number; correlationId?: string },
  ): Promise<string>;
  /**
   * Publishes an EVENT task's message to its sink with a given id (the same id twice is one message where the queue
   * can tell). (Default: none: EVENT tasks fail saying so)
   */
  publish?(sink: string, payload: Json, id: string): Promise<void>;
}

/** How a system task (one the engine executes itself) is recorded: a step named by its reference. */
export interface SystemTaskRecord {
  taskType: string;
  input: Json;
  output: Json;
  /**
   * FORK_JOIN only: 'independent' when its branches advance on
   * their own (absent: in lockstep rounds, as recorded before).
   */
  branches?: 'independent';
  /** Sandbox time its expression took, in ms: replay counts it against the run's budget again. (Default: none) */
  sandboxMs?: number;
}

/** One attempt of a system task: its signal, and the sandbox time its expressions took. */
interface SystemAttempt {
  signal: AbortSignal;
  sandboxMs: number;
}

/** Thrown by a TERMINATE task: the run ends with `status` (COMPLETED returns `output`). */
class Terminated extends Error {
  constructor(
    readonly status: string,
    readonly reason: string,
    readonly output: Json,
  ) {
    super(reason);
  }
}

const DEFAULT_LIMITS = resolveLimits();

/** The patch under which an asyncComplete HTTP task waits for its external update (runs before it do not). */
export const HTTP_ASYNC_PATCH = 'conductor-http-async-complete';

/** The queue task an asyncComplete HTTP task waits on (updated, never polled). */
export const HTTP_ASYNC_TASK = 'HTTP';

/** Executes one run of a declarative workflow on the kernel: tasks become tasks, steps, timers and waits. */
export class Interpreter {
  private readonly scope: ParamScope;
  private readonly limits: DeclarativeLimits;
  private last: Json = {};
  /**
   * Sandbox time this run's expressions have used: recorded in
   * completed steps, plus this execution's timed-out attempts.
   */
  private sandboxMs = 0;
  /** DO_WHILE iterations this run has begun, every loop counted. */
  private loopIterations = 0;
  /** SUB_WORKFLOW tasks this run has started. */
  private subWorkflows = 0;
  /** The refs each FORK_JOIN_DYNAMIC (by its ref) forked, for the JOIN after it. */
  private readonly dynamicJoins = new Map<string, string[]>();
  /** The input a dynamically forked task (by its ref) gets on top of its inputParameters. */
  private readonly forkedInputs = new Map<string, Record<string, Json>>();
  /** Every ref of the graph, read when a FORK_JOIN_DYNAMIC forks. */
  private graphRefs: Set<string> | undefined;

  constructor(
    private readonly ctx: WorkflowContext,
    private readonly def: WorkflowDef,
    private readonly env: DeclarativeEnv,
    input: Json,
  ) {
    this.limits = env.limits ?? DEFAULT_LIMITS;
    const given = input !== null && typeof input === 'object' && !Array.isArray(input) ? input : {};
    this.scope = {
      workflow: {
        input: { ...def.inputTemplate, ...given },
        variables: { ...def.variables },
        workflowId: ctx.runId,
        workflowType: def.name,
        version: def.version,
      },
      tasks: {},
    };
  }

  async run(): Promise<Json> {
    try {
      await this.list(this.def.tasks, direct, '');
    } catch (caught) {
      let error = caught;
      if (error instanceof Terminated) {
        if (error.status === 'COMPLETED') return error.output;
        error = new NonRetryableError(error.reason || `terminated with status ${error.status}`, {
          code: 'E_TERMINATED',
          details: { status: error.status }, // FAILED or TERMINATED, as the task said
        });
      }
      await this.startFailureWorkflow(error as Error);
      throw error;
    }
    const outputs = this.def.outputParameters;
    return Object.keys(outputs).length ? resolveParams(outputs, this.scope) : this.last;
  }

  /**
   * The definition's failureWorkflow, started once (a step) with what failed; a TERMINATE is not a failure to report.
   */
  private async startFailureWorkflow(error: Error): Promise<void> {
    const name = this.def.failureWorkflow;
    const { code, details } = error as WaymarkError;
    const status =
      code === 'E_TERMINATED' && (details as { status?: unknown }).status === 'TERMINATED' ? 'TERMINATED' : 'FAILED';
    if (!name || status === 'TERMINATED' || !this.env.start) return;
    const start = this.env.start;
    const input = {
      workflowId: this.ctx.runId,
      reason: error.message,
      failureStatus: status,
      failedWorkflow: { workflowName: this.def.name, version: this.def.version, input: this.scope.workflow.input },
    };
    await this.ctx.step('__failure_workflow', async () => ({
      taskType: 'FAILURE_WORKFLOW',
      input,
      output: { workflowId: await start(name, input, `${this.ctx.runId}.failure`) },
    }));
  }

  /** Runs tasks in order; `suffix` marks DO_WHILE iterations (`__2`). */
  private async list(tasks: WorkflowTask[], op: Operation, suffix: string): Promise<void> {
    let previous: WorkflowTask | undefined;
    for (const task of tasks) {
      await this.task(task, op, suffix, previous);
      previous = task;
    }
  }

  private async task(task: WorkflowTask, op: Operation, suffix: string, previous?: WorkflowTask): Promise<void> {
    const ref = task.taskReferenceName + suffix;
    const forked = this.forkedInputs.get(ref);
    const input = { ...resolveParams(task.inputParameters, this.scope), ...forked };
    switch (task.type) {
      case 'SIMPLE':
        return this.simple(task, ref, input, op, suffix);
      case 'WAIT':
      case 'HUMAN':
        return this.wait(task, ref, input, op, suffix);
      case 'INLINE': {
        const script = String(input.expression ?? '');
        await this.system(task, ref, input, op, suffix, async (attempt) => ({
          result: await this.evaluate(script, input, attempt),
        }));
        return;
      }
      case 'SET_VARIABLE':
        await this.system(task, ref, input, op, suffix, () => ({}));
        Object.assign(this.scope.workflow.variables, input);
        return;
      case 'SWITCH':
        return this.switchTask(task, ref, input, op, suffix);
      case 'FORK_JOIN':
        return this.fork(task, ref, input, op, suffix);
      case 'JOIN': {
        const joinOn =
          previous?.type === 'FORK_JOIN_DYNAMIC'
            ? (this.dynamicJoins.get(previous.taskReferenceName + suffix) ?? [])
            : task.joinOn;
        const joined = Object.fromEntries(joinOn.map((on) => [on, this.scope.tasks[on + suffix]?.output ?? null]));
        await this.system(task, ref, input, op, suffix, () => joined);
        return;
      }
      case 'DECISION':
        return this.switchTask(task, ref, input, op, suffix);
      case 'FORK_JOIN_DYNAMIC':
        return this.dynamicFork(task, ref, input, op, suffix);
      case 'NOOP':
        await this.system(task, ref, input, op, suffix, () => ({}));
        return;
      case 'LAMBDA': {
        const body = String(input.scriptExpression ?? '');
        await this.system(task, ref, input, op, suffix, async (attempt) => ({
          result: await this.evaluate(lambdaScript(body), input, attempt),
        }));
        return;
      }
      case 'JSON_JQ_TRANSFORM': {
        const query = input.queryExpression;
        await this.system(task, ref, input, op, suffix, async (attempt) => {
          if (typeof query !== 'string' || query === '')
            throw refusal('E_EXPRESSION', `JSON_JQ_TRANSFORM '${ref}': missing 'queryExpression' in input parameters`);
          const results = (await this.evaluate(query, input, attempt, 'jq')) as Json[];
          return { result: results[0] ?? null, resultList: results };
        });
        return;
      }
      case 'DYNAMIC': {
        const name = input[task.dynamicTaskNameParam];
        if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
          throw refusal(
            'E_INVALID_INPUT',
            `DYNAMIC '${ref}': inputParameters.${task.dynamicTaskNameParam} is ${JSON.stringify(name ?? null)}, ` +
              'not the name of a task to run',
          );
        }
        return this.simple({ ...task, type: 'SIMPLE', name }, ref, input, op, suffix);
      }
      case 'EXCLUSIVE_JOIN': {
        const ran = (refs: string[]) => refs.find((on) => this.scope.tasks[on + suffix] !== undefined);
        const found = ran(task.joinOn) ?? ran(task.defaultExclusiveJoinTask);
        if (found === undefined) {
          throw refusal(
            'E_INVALID_INPUT',
            `EXCLUSIVE_JOIN '${ref}': none of joinOn [${task.joinOn.join(', ')}] or defaultExclusiveJoinTask ` +
              `[${task.defaultExclusiveJoinTask.join(', ')}] ran`,
          );
        }
        const output = this.scope.tasks[found + suffix]!.output;
        await this.system(task, ref, input, op, suffix, () => output);
        return;
      }
      case 'START_WORKFLOW': {
        const start = this.env.start;
        await this.system(task, ref, input, op, suffix, async () => {
          const request = startWorkflowRequest(ref, input);
          if (!start) throw refusal('E_INVALID_INPUT', `START_WORKFLOW '${ref}': this engine starts no workflows`);
          const { name: _name, input: _input, ...options } = request;
          try {
            return { workflowId: await start(request.name, request.input, childRunId(this.ctx.runId, ref), options) };
          } catch (error) {
            throw startFailure(ref, request.name, error);
          }
        });
        return;
      }
      case 'EVENT':
        await this.system(task, ref, input, op, suffix, () => this.publishEvent(task.sink, ref, suffix, input));
        return;
      case 'DO_WHILE':
        return this.doWhile(task, ref, input, op);
      case 'TERMINATE': {
        const status = String(input.terminationStatus ?? 'COMPLETED');
        await this.system(task, ref, input, op, suffix, () => ({}));
        throw new Terminated(status, String(input.terminationReason ?? ''), (input.workflowOutput ?? {}) as Json);
      }
      case 'HTTP':
        return this.http(task, ref, input, op, suffix);
      case 'SUB_WORKFLOW': {
        if (++this.subWorkflows > this.limits.maxSubWorkflows) {
          throw limitExceeded(
            'maxSubWorkflows',
            `SUB_WORKFLOW '${ref}' would be this run's sub-workflow number ${this.subWorkflows}, ` +
              `more than ${this.limits.maxSubWorkflows}`,
          );
        }
        const request = { name: task.subWorkflowParam.name, version: task.subWorkflowParam.version ?? null, input };
        const output = await op(() =>
          this.ctx.task(SUB_WORKFLOW_TASK, request, { ref, maxAttempts: 100, responseTimeoutMs: WATCH_LEASE_MS }),
        );
        return this.done(task, suffix, { input, output: output as Json, status: 'COMPLETED' });
      }
    }
  }

  /** A SIMPLE task: dispatched to remote workers with the retries and timeouts of its task definition. */
  private async simple(
    task: WorkflowTask,
    ref: string,
    input: Record<string, Json>,
    op: Operation,
    suffix: string,
  ): Promise<void> {
    const taskDef = effectiveTaskDef(task, this.env.taskDef(task.name));
    const full = { ...taskDef.inputTemplate, ...input };
    try {
      const output = await op(() =>
        this.ctx.task(task.name, full, {
          ref,
          maxAttempts: taskDef.retryCount + 1,
          retryDelayMs: (n) => retryDelayMs(taskDef, n),
          responseTimeoutMs: taskDef.responseTimeoutSeconds * 1000,
          // ALERT_ONLY: an attempt may run over its timeoutSeconds;
          // TIME_OUT_WF: running over fails the task (and so the run).
          ...(taskDef.timeoutSeconds > 0 && taskDef.timeoutPolicy !== 'ALERT_ONLY'
            ? { timeoutMs: taskDef.timeoutSeconds * 1000 }
            : {}),
          retryTimedOut: taskDef.timeoutPolicy !== 'TIME_OUT_WF',
        }),
      );
      this.done(task, suffix, { input: full, output: output as Json, status: 'COMPLETED' });
    } catch (error) {
      if (!task.optional || (error as WaymarkError).code !== 'E_TASK_FAILED') throw error;
      this.done(task, suffix, { input: full, output: {}, status: 'COMPLETED_WITH_ERRORS' });
    }
  }

  /**
   * HTTP: the call is a step (retried); an optional task's failure ends it COMPLETED_WITH_ERRORS and the run goes
   * on. With `asyncComplete` (runs since the patch) it then waits IN_PROGRESS, as a task named HTTP, for the
   * external update that completes it; its output is the response with the update's output over it.
   */
  private async http(
    task: WorkflowTask,
    ref: string,
    input: Record<string, Json>,
    op: Operation,
    suffix: string,
  ): Promise<void> {
    let response: Json;
    try {
      response = await this.system(
        task,
        ref,
        input,
        op,
        suffix,
        ({ signal }) => callHttp(input.http_request ?? input, signal, this.limits.http),
        { retry: { maxAttempts: 3, initialDelayMs: 1_000 } },
      );
    } catch (error) {
      if (!task.optional || (error as WaymarkError).code !== 'E_STEP_FAILED') throw error;
      return this.done(task, suffix, { input, output: {}, status: 'COMPLETED_WITH_ERRORS' });
    }
    if ((task as { asyncComplete?: unknown }).asyncComplete !== true || !this.ctx.patched(HTTP_ASYNC_PATCH)) return;
    const reported = await op(() =>
      this.ctx.task(HTTP_ASYNC_TASK, input, { ref, responseTimeoutMs: 365 * 24 * 3_600_000 }),
    );
    const output = { ...(response as Record<string, Json>), ...(reported as Record<string, Json> | null) };
    this.done(task, suffix, { input, output, status: 'COMPLETED' });
  }

  /** WAIT for a duration or until a time (a durable timer), or (without either) like HUMAN, for an external update. */
  private async wait(
    task: WorkflowTask,
    ref: string,
    input: Record<string, Json>,
    op: Operation,
    suffix: string,
  ): Promise<void> {
    if (task.type === 'WAIT' && (typeof input.duration === 'string' || typeof input.until === 'string')) {
      const ms =
        typeof input.duration === 'string'
          ? parseWaitDuration(input.duration)
          : Math.max(0, parseWaitUntil(input.until as string) - this.ctx.now());
      await op(() => this.ctx.sleep(ms));
      return this.done(task, suffix, { input, output: {}, status: 'COMPLETED' });
    }
    const output = await op(() => this.ctx.task(task.type, input, { ref, responseTimeoutMs: 365 * 24 * 3_600_000 }));
    this.done(task, suffix, { input, output: output as Json, status: 'COMPLETED' });
  }

  /**
   * FORK_JOIN: the branches advance independently (a slow task in one never holds another's next task), which
   * the fork records; a fork recorded without that mark (or inside such a fork) replays in lockstep rounds,
   * as it first ran.
   */
  private async fork(
    task: Extract<WorkflowTask, { type: 'FORK_JOIN' }>,
    ref: string,
    input: Record<string, Json>,
    op: Operation,
    suffix: string,
  ): Promise<void> {
    const independent = op === direct;
    const record = await op(() =>
      this.ctx.step<SystemTaskRecord>(
        ref,
        () => ({ taskType: task.type, input, output: {}, ...(independent ? { branches: 'independent' } : {}) }),
        { retry: { maxAttempts: 3, initialDelayMs: 100 } },
      ),
    );
    this.done(task, suffix, { input, output: record.output, status: 'COMPLETED' });
    const branches = task.forkTasks.map((branch) => (branchOp: Operation) => this.list(branch, branchOp, suffix));
    if (record.branches !== 'independent') return runInLockstep(branches, op);
    await Promise.all(branches.map((branch) => branch(direct)));
  }

  /** SWITCH, and DECISION (its older form: caseValueParam or caseExpression; output `caseOutput`). */
  /**
   * FORK_JOIN_DYNAMIC: what it forks is worked out once and recorded with the fork (the parsed tasks and their
   * inputs), so replay forks exactly that; the branches then run as FORK_JOIN's do.
   */
  private async dynamicFork(
    task: ForkJoinDynamicTask,
    ref: string,
    input: Record<string, Json>,
    op: Operation,
    suffix: string,
  ): Promise<void> {
    const independent = op === direct;
    this.graphRefs ??= new Set(flattenTasks(this.def).map((flat) => flat.task.taskReferenceName));
    const taken = this.graphRefs;
    const record = await op(() =>
      this.ctx.step<SystemTaskRecord>(ref, () => {
        const plan = forkPlan(task, input, taken);
        const forkedTasks = plan.tasks.map((forkedTask) => forkedTask.taskReferenceName);
        return {
          taskType: task.type,
          input: {
            ...input,
            forkedTasks,
            forkedTaskDefs: plan.tasks,
            forkedTaskInputs: plan.inputs,
          } as unknown as Json,
          output: {},
          ...(independent ? { branches: 'independent' } : {}),
        };
      }),
    );
    const recorded = record.input as unknown as {
      forkedTaskDefs: ForkPlan['tasks'];
      forkedTaskInputs: ForkPlan['inputs'];
    };
    const tasks = recorded.forkedTaskDefs;
    for (const forkedTask of tasks) {
      const extra = recorded.forkedTaskInputs[forkedTask.taskReferenceName];
      if (extra) this.forkedInputs.set(forkedTask.taskReferenceName + suffix, extra);
    }
    this.dynamicJoins.set(
      ref,
      tasks.map((forkedTask) => forkedTask.taskReferenceName),
    );
    this.done(task, suffix, { input, output: record.output, status: 'COMPLETED' });
    const branches = tasks.map((forkedTask) => (branchOp: Operation) => this.list([forkedTask], branchOp, suffix));
    if (record.branches !== 'independent') return runInLockstep(branches, op);
    await Promise.all(branches.map((branch) => branch(direct)));
  }

  private async switchTask(
    task: SwitchTask | DecisionTask,
    ref: string,
    input: Record<string, Json>,
    op: Operation,
    suffix: string,
  ): Promise<void> {
    const decide = async (attempt: SystemAttempt): Promise<Json> => {
      let value: Json | undefined;
      if (task.type === 'DECISION')
        value = task.caseExpression
          ? await this.evaluate(task.caseExpression, input, attempt)
          : input[task.caseValueParam ?? ''];
      else
        value =
          task.evaluatorType === 'value-param'
            ? input[task.expression]
            : await this.evaluate(task.expression, input, attempt);
      const selected = value === null || value === undefined ? '' : String(value);
      const selectedCase = Object.hasOwn(task.decisionCases, selected) ? selected : 'defaultCase';
      return task.type === 'DECISION'
        ? { caseOutput: [selected], selectedCase }
        : { evaluationResult: [selected], selectedCase };
    };
    const decided = (await this.system(task, ref, input, op, suffix, decide)) as { selectedCase: string };
    const branch =
      decided.selectedCase === 'defaultCase' ? task.defaultCase : task.decisionCases[decided.selectedCase]!;
    await this.list(branch, op, suffix);
  }

  private async doWhile(task: DoWhileTask, ref: string, input: Record<string, Json>, op: Operation): Promise<void> {
    for (let iteration = 1; ; iteration++) {
      if (this.loopIterations >= this.limits.maxLoopIterations) {
        throw limitExceeded(
          'maxLoopIterations',
          `DO_WHILE '${ref}' did not end: the run has taken ${this.loopIterations} DO_WHILE iterations, ` +
            `its loops and nested loops counted together`,
        );
      }
      this.loopIterations += 1;
      await this.list(task.loopOver, op, `__${iteration}`);
      const $: Record<string, Json> = { ...input, [task.taskReferenceName]: { iteration } };
      for (const body of task.loopOver)
        $[body.taskReferenceName] = this.scope.tasks[body.taskReferenceName]?.output ?? null;
      const check = async (attempt: SystemAttempt) => ({
        iteration,
        continue: Boolean(await this.evaluate(task.loopCondition, resolveValue($, this.scope), attempt)),
      });
      const again = (await this.system(task, `${ref}__${iteration}`, input, op, '', check)) as { continue: boolean };
      this.scope.tasks[task.taskReferenceName] = { input, output: { iteration }, status: 'IN_PROGRESS' };
      if (!again.continue) return this.done(task, '', { input, output: { iteration }, status: 'COMPLETED' });
    }
  }

  /**
   * A task the engine executes itself: a checkpointed step named
   * by its reference; its output (and sandbox time) is recorded.
   */
  private async system(
    task: WorkflowTask,
    ref: string,
    input: Record<string, Json>,
    op: Operation,
    suffix: string,
    execute: (attempt: SystemAttempt) => Json | Promise<Json>,
    options: { retry?: { maxAttempts: number; initialDelayMs?: number } } = {
      retry: { maxAttempts: 3, initialDelayMs: 100 },
    },
  ): Promise<Json> {
    const attemptOnce = async ({ signal }: { signal: AbortSignal }): Promise<SystemTaskRecord> => {
      const attempt: SystemAttempt = { signal, sandboxMs: 0 };
      const output = await execute(attempt);
      return attempt.sandboxMs > 0
        ? { taskType: task.type, input, output, sandboxMs: attempt.sandboxMs }
        : { taskType: task.type, input, output };
    };
    const record = await op(() => this.ctx.step<SystemTaskRecord>(ref, attemptOnce, options));
    this.sandboxMs += typeof record.sandboxMs === 'number' ? record.sandboxMs : 0;
    this.done(task, suffix, { input, output: record.output, status: 'COMPLETED' });
    return record.output;
  }

  /** An EVENT task's publish: its input and the run's identity, under an id derived from the run and the ref. */
  private async publishEvent(sink: string, ref: string, suffix: string, input: Record<string, Json>): Promise<Json> {
    const publish = this.env.publish;
    if (!publish) throw refusal('E_INVALID_INPUT', `EVENT '${ref}': this engine publishes no events`);
    const queue = sink === 'conductor' ? `conductor:${this.def.name}:${ref}` : sink;
    const messageId = `${this.ctx.runId}:${ref}${suffix}`;
    const identity = {
      workflowInstanceId: this.ctx.runId,
      workflowType: this.def.name,
      workflowVersion: this.def.version,
    };
    const payload = { ...input, ...identity };
    try {
      await publish(queue, payload, messageId);
    } catch (error) {
      const code = (error as WaymarkError).code;
      if (code === 'E_BROKER_NOT_CONFIGURED' || code === 'E_INVALID_INPUT') {
        throw refusal(code, `EVENT '${ref}': ${(error as Error).message}`);
      }
      throw error;
    }
    return { event_produced: queue, messageId, sink, ...payload };
  }

  private done(task: WorkflowTask, suffix: string, result: TaskScope): void {
    this.scope.tasks[task.taskReferenceName] = result;
    if (suffix) this.scope.tasks[task.taskReferenceName + suffix] = result;
    this.last = result.output;
  }

  /**
   * A script in the sandbox, off the event loop, within the run's expression budget: a syntax error or a
   * throw is the definition's and is not retried; hitting the time or memory limit of one evaluation may be
   * the machine's load, so the step is tried again; a used-up budget fails it at once (E_LIMIT_EXCEEDED).
   */
  private async evaluate(
    script: string,
    $: Json,
    attempt: SystemAttempt,
    language: ExpressionLanguage = 'javascript',
  ): Promise<Json> {
    const { expressionBudgetMs, expressionTimeoutMs } = this.limits;
    const remainingMs = expressionBudgetMs - this.sandboxMs - attempt.sandboxMs;
    const budgetUsedUp = () =>
      limitExceeded(
        'expressionBudgetMs',
        `the run's expressions have used their ${expressionBudgetMs} ms of sandbox time`,
      );
    if (remainingMs <= 0) throw budgetUsedUp();
    const timeoutMs = Math.min(expressionTimeoutMs, remainingMs);
    try {
      const { value, elapsedMs } = await this.env.sandbox.evaluate(script, $, {
        timeoutMs,
        signal: attempt.signal,
        ...(language === 'jq' ? { language } : {}),
      });
      attempt.sandboxMs += elapsedMs;
      return value;
    } catch (error) {
      const code = (error as WaymarkError).code;
      if (code === 'E_EXPRESSION') throw new NonRetryableError((error as Error).message, { code });
      if (code === 'E_EXPRESSION_TIMEOUT') {
        this.sandboxMs += timeoutMs;
        if (timeoutMs < expressionTimeoutMs) throw budgetUsedUp();
      }
      throw error;
    }
  }
}

import type { NewTask } from '../core/tasks.js';
import type { HistoryEvent, Run } from '../core/types.js';
import type { ReleaseHow } from './host.js';
import type { AttemptObserver } from './step-op.js';
import { noSpan, type SpanHandle, type Telemetry } from './telemetry.js';

/**
 * What one execution of a run reports: a span from its claim until it is released (a child of the span its start
 * recorded), a span and a timed count per step attempt, and the traceparent each task it schedules carries to its
 * worker. With tracing off only the step counts remain, and tasks carry the start's traceparent as it is.
 */
export class ExecutionTrace {
  /** The W3C traceparent the run's start recorded: this execution's span is its child. */
  private readonly startTraceparent: string | undefined;
  private span: SpanHandle = noSpan();

  constructor(
    private readonly telemetry: Telemetry,
    private readonly run: Run,
    history: HistoryEvent[],
  ) {
    this.startTraceparent = startTraceparentOf(history);
  }

  /** This execution's span's traceparent (the start's when tracing is off). */
  get traceparent(): string | undefined {
    return this.span.traceparent ?? this.startTraceparent;
  }

  /** The execution begins. */
  begin(): void {
    const { workflow, version, id, epoch } = this.run;
    this.span = this.telemetry.startSpan('waymark.run', {
      parent: this.startTraceparent,
      attributes: { 'workflow.name': workflow, 'workflow.version': version, 'run.id': id, 'run.epoch': epoch },
    });
  }

  /** The execution gave the run up, or stopped with the engine; its span ends (once). */
  end(how: ReleaseHow | 'stopped'): void {
    this.span.set({ 'run.released': how });
    this.span.end(how === 'parked' ? 'the run was parked for an operator' : undefined);
    this.span = noSpan();
  }

  /** Times (and traces) one step attempt; its outcome is counted by step name, unless the execution stopped. */
  attempt(name: string, seq: number, attempt: number): AttemptObserver {
    const { telemetry } = this;
    const { workflow, version, id } = this.run;
    const began = performance.now();
    if (!telemetry.tracing)
      return {
        traceparent: undefined,
        ended: (outcome) => {
          if (outcome) telemetry.stepAttempt(workflow, version, name, outcome, (performance.now() - began) / 1000);
        },
      };
    const span = telemetry.startSpan('waymark.step', {
      parent: this.span.traceparent,
      attributes: {
        'workflow.name': workflow,
        'workflow.version': version,
        'run.id': id,
        'step.name': name,
        'step.seq': seq,
        'step.attempt': attempt,
      },
    });
    return {
      traceparent: span.traceparent,
      ended: (outcome, error) => {
        if (outcome) telemetry.stepAttempt(workflow, version, name, outcome, (performance.now() - began) / 1000);
        span.set({ 'step.outcome': outcome ?? 'stopped' });
        span.end(outcome === 'completed' ? undefined : error);
      },
    };
  }

  /**
   * A task to schedule, with the traceparent its worker continues: a span of its scheduling when tracing is on (its
   * poll and report are traced as children of it), else the start's.
   */
  task(task: NewTask): NewTask {
    if (!this.telemetry.tracing) {
      if (this.startTraceparent !== undefined) task.traceparent = this.startTraceparent;
      return task;
    }
    const span = this.telemetry.startSpan('waymark.task.schedule', {
      parent: this.span.traceparent,
      kind: 'producer',
      attributes: {
        'workflow.name': task.workflow,
        'workflow.version': task.version,
        'run.id': task.runId,
        'task.type': task.taskType,
        'task.ref': task.refName,
        'task.id': task.taskId,
        'task.attempt': task.attempt,
      },
    });
    if (span.traceparent !== undefined) task.traceparent = span.traceparent;
    span.end();
    return task;
  }
}

/** The traceparent the run's latest start (or restart) recorded in its history, if any. */
function startTraceparentOf(history: HistoryEvent[]): string | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const event = history[i]!;
    if (event.type !== 'run_started') continue;
    const traceparent = (event.data as { traceparent?: unknown } | undefined)?.traceparent;
    if (typeof traceparent === 'string') return traceparent;
  }
  return undefined;
}

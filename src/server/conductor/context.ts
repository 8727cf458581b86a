import type { Json, Run } from '../../core/types.js';
import type { Engine } from '../../engine.js';
import type { RunDetail } from './workflow-shape.js';

/** What the Conductor routes share. */
export interface ConductorContext {
  engine: Engine;
  /** Aborted when the server starts closing: long polls and waits end. */
  closing: AbortSignal;
  /** The stored WorkflowDef of a declarative version; undefined for code workflows. */
  sourceOf(workflow: string, version: number): Promise<Json | undefined>;
}

/** Everything a full Workflow JSON shows beyond the run. */
export async function runDetail(context: ConductorContext, run: Run): Promise<RunDetail> {
  const [history, tasks, source] = await Promise.all([
    context.engine.history(run.id),
    context.engine.tasks.ofRun(run.id),
    context.sourceOf(run.workflow, run.version),
  ]);
  return { history, tasks, source };
}

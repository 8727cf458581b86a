import type { Json } from '../../core/types.js';

/** What a declarative definition says of one of its tasks, as the task views need it. */
export interface GraphTask {
  type: string;
  name: string;
  optional: boolean;
  asyncComplete: boolean;
}

/** A definition's tasks by reference name (every nested list walked); empty for a code workflow. */
export type GraphFacts = ReadonlyMap<string, GraphTask>;

const isRecord = (value: unknown): value is Record<string, Json> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** The tasks of a stored Conductor definition (its JSON source), tolerant of anything that is not one. */
export function graphFacts(source: Json | undefined): GraphFacts {
  const facts = new Map<string, GraphTask>();
  const walk = (list: unknown): void => {
    if (!Array.isArray(list)) return;
    for (const task of list) {
      if (!isRecord(task) || typeof task.taskReferenceName !== 'string') continue;
      const type = typeof task.type === 'string' && task.type !== '' ? task.type : 'SIMPLE';
      facts.set(task.taskReferenceName, {
        type,
        name: typeof task.name === 'string' ? task.name : task.taskReferenceName,
        optional: task.optional === true,
        asyncComplete: task.asyncComplete === true,
      });
      walk(task.loopOver);
      walk(task.defaultCase);
      if (Array.isArray(task.forkTasks)) for (const branch of task.forkTasks) walk(branch);
      if (isRecord(task.decisionCases)) for (const branch of Object.values(task.decisionCases)) walk(branch);
    }
  };
  if (isRecord(source)) walk(source.tasks);
  return facts;
}

/** The graph task a (possibly DO_WHILE-suffixed, `ref__2`) reference runs. */
export function graphTaskOf(graph: GraphFacts | undefined, ref: string): GraphTask | undefined {
  return graph?.get(ref) ?? graph?.get(ref.replace(/__\d+$/, ''));
}

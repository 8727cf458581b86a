/** What event actions do through the kernel: starts, signals and task reports of the runs an event names. */
import { WaymarkError } from '../core/errors.js';
import { isTerminalTask } from '../core/tasks.js';
import type { Kernel } from '../runtime/kernel.js';
import type { EventEngine } from './types.js';

/** The event service's port onto `kernel`; `warn` tells what a handler could not do. */
export function kernelEventPort(kernel: Kernel, warn: EventEngine['warn']): EventEngine {
  return {
    startRun: (workflow, input, options) => kernel.startRun(workflow, input, options),
    signal: (runId, name, payload) => kernel.signal(runId, name, payload),
    reportTask: async (runId, ref, status, output) => {
      const run = await kernel.getRun(runId);
      const tasks = (await kernel.tasks.ofRun(runId)).filter((t) => t.refName === ref);
      const open = tasks.filter((t) => !isTerminalTask(t.status)).pop();
      const given = output !== null && typeof output === 'object' && !Array.isArray(output) ? output : { output };
      if (open) {
        await kernel.tasks.report(open.taskId, { status, output: given });
        return true;
      }
      const wait = run.waitingFor;
      if (status === 'COMPLETED' && wait?.kind === 'signal' && (wait.signals ?? [wait.name]).includes(ref)) {
        await kernel.signal(runId, ref, given);
        return true;
      }
      if (tasks.length > 0) return false; // reported before: a redelivery
      throw new WaymarkError('E_TASK_NOT_FOUND', `run '${runId}' has no open task '${ref}'`);
    },
    warn,
  };
}

/**
 * The built-in example workflows: what `waymark demo` runs, and what `--examples` serves (`npm start` asks for them).
 */
import type { WorkflowDefinition } from '../index.js';
import { onboarding } from './onboarding.js';
import { order, orderV1 } from './order.js';
import { report } from './report.js';
import { rollout } from './rollout.js';

export { onboarding, order, orderV1, report, rollout };

export const workflows: WorkflowDefinition[] = [orderV1, order, onboarding, report, rollout];

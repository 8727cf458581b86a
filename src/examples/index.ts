/** The example workflows `npm start` (waymark demo) and `waymark dev` use by default. */
import type { WorkflowDefinition } from '../index.js';
import { onboarding } from './onboarding.js';
import { order } from './order.js';
import { report } from './report.js';

export { onboarding, order, report };

export const workflows: WorkflowDefinition[] = [order, onboarding, report];

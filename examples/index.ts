/**
 * The example workflows. Their code lives in src/examples/ so that the built CLI (dist/) ships them;
 * this module is what `--workflows examples/index.ts` loads.
 */
export { onboarding, order, report, workflows } from '../src/examples/index.js';

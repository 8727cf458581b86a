import type { ScenarioContext } from '../lib.js';

export interface Scenario {
  name: string;
  load(): Promise<(context: ScenarioContext) => Promise<void>>;
}

/** The scenarios `npm run bench` knows, in the order they run by default. Loaded lazily. */
export const SCENARIOS: Record<string, Scenario> = {
  F: { name: 'sqlite-fsync-ceiling', load: async () => (await import('./f-fsync-ceiling.js')).scenarioF },
  A: { name: 'sequential-steps', load: async () => (await import('./a-sequential.js')).scenarioA },
  B: { name: 'concurrent-runs', load: async () => (await import('./b-concurrent.js')).scenarioB },
  C: { name: 'parked-runs-memory', load: async () => (await import('./c-parked.js')).scenarioC },
  D: { name: 'crash-recovery', load: async () => (await import('./d-recovery.js')).scenarioD },
};

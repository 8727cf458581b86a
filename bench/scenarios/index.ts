import type { ScenarioContext, StoreKind } from '../lib.js';

export interface Scenario {
  name: string;
  /** The backends it applies to, and why not the others. (Default: both) */
  stores?: StoreKind[];
  skipNote?: string;
  load(): Promise<(context: ScenarioContext) => Promise<void>>;
}

/** The scenarios `npm run bench` knows, in the order they run by default. Loaded lazily. */
export const SCENARIOS: Record<string, Scenario> = {
  F: {
    name: 'sqlite-fsync-ceiling',
    stores: ['sqlite'],
    skipNote: 'F measures SQLite fsync on a local file; on PostgreSQL the commit ceiling is measured by scenario G',
    load: async () => (await import('./f-fsync-ceiling.js')).scenarioF,
  },
  G: {
    name: 'postgres-commit-ceiling',
    stores: ['postgres'],
    skipNote: 'G measures raw PostgreSQL INSERT+COMMIT transactions; scenario F is the SQLite ceiling',
    load: async () => (await import('./g-pg-commit-ceiling.js')).scenarioG,
  },
  A: { name: 'sequential-steps', load: async () => (await import('./a-sequential.js')).scenarioA },
  B: { name: 'concurrent-runs', load: async () => (await import('./b-concurrent.js')).scenarioB },
  C: { name: 'parked-runs-memory', load: async () => (await import('./c-parked.js')).scenarioC },
  D: { name: 'crash-recovery', load: async () => (await import('./d-recovery.js')).scenarioD },
  H: { name: 'deploy-check', load: async () => (await import('./h-deploy-check.js')).scenarioH },
  T: { name: 'remote-tasks', load: async () => (await import('./t-tasks.js')).scenarioT },
  P: { name: 'run-list-filters', load: async () => (await import('./p-run-filters.js')).scenarioP },
  S: { name: 'schedules-firing', load: async () => (await import('./s-schedules.js')).scenarioS },
  L: { name: 'long-polls', load: async () => (await import('./l-long-polls.js')).scenarioL },
  E: {
    name: 'scale-out',
    stores: ['postgres'],
    skipNote: 'E runs 1, 2 and 3 engine processes on one database: PostgreSQL only (run with --store postgres://...)',
    load: async () => (await import('./e-scale-out.js')).scenarioE,
  },
};

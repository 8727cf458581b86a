/** The /v1 shapes the pages read (a subset of /openapi.json's components). */

export interface ErrorInfo {
  name: string;
  message: string;
  code?: string;
}

export interface RunSummary {
  id: string;
  workflow: string;
  version: number;
  status: string;
  waitingFor?: { kind: string; name?: string; until?: number };
  attention?: ErrorInfo;
  error?: ErrorInfo;
  correlationId?: string;
  epoch: number;
  createdAt: string;
  updatedAt: string;
}

export interface VersionSummary {
  workflow: string;
  version: number;
  fingerprint: string;
  registeredAt?: string;
  status: string;
  runs: Record<string, number>;
  inFlight: number;
  parkedOn?: Record<string, number>;
  oldestInFlightAt?: string;
  nextWakeAt?: string;
  drainEta?: string;
  servedBy: string[];
  stranded: number;
  routeShare?: number;
  safeToRetire?: boolean;
  /** Active schedules that start it (pinned, or unpinned while it takes routed starts). */
  schedules?: string[];
}

export interface PatchUsage {
  workflow: string;
  patch: string;
  patched: number;
  onOldBranch: number;
}

export interface HistoryEvent {
  pos: number;
  epoch?: number;
  type: string;
  seq?: number;
  name?: string;
  at: number;
  data?: Record<string, unknown> | null;
}

export interface RunDescription {
  run: RunSummary;
  where: string;
  current?: { kind: string; name: string; seq?: number; attempt?: number; attempts?: number };
  effects: { step?: string; seq?: number; effect?: string; state?: string }[];
  pending: string[];
  actions: string[];
  completedSteps: string[];
}

export interface ReplayVerdict {
  ok: boolean;
  replayed?: number;
  oldBranches?: string[];
  frontier?: unknown;
  reason?: string;
  divergence?: { seq: number; expected?: { kind: string; name: string }; got?: { kind: string; name: string } };
  message?: string;
}

export interface Rollout {
  kind?: string;
  workflow: string;
  from: number;
  to: number;
  percent: number;
  step?: number;
  everyMs?: number;
  maxFailureRatio?: number;
  minSample?: number;
  status: string;
  startedAt?: number;
  lastStepAt?: number;
  outcome?: string;
  movedBack?: string[];
  keptOnCandidate?: string[];
  eligible?: number;
  upgraded?: string[];
  incompatible?: string[];
}

export interface Whoami {
  actor: string | null;
  role: 'reader' | 'worker' | 'operator' | 'admin';
  auth: boolean;
}

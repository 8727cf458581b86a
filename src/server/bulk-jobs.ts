import { randomUUID } from 'node:crypto';
import { WaymarkError } from '../core/errors.js';
import type { Engine, RunListQuery } from '../engine.js';
import type { RunSummary } from '../store/types.js';

/** What a bulk job does to each run it matches. */
export type BulkAction = 'cancel' | 'retry-step' | 'upgrade';

/** A bulk job as it is asked for. */
export interface BulkRequest {
  filter: RunListQuery;
  action: BulkAction;
  /** upgrade: the target version. */
  to?: number;
  actor?: string;
  reason: string;
}

/** A bulk job's progress. */
export interface BulkJobView {
  id: string;
  action: BulkAction;
  /** Runs the filter matched when the job began. */
  total: number;
  done: number;
  failed: number;
  /** Runs the action did not fit (E_RUN_STATE: e.g. already finished). */
  skipped: number;
  state: 'running' | 'finished';
  /** The first failures (at most 50). */
  errors: { runId: string; code: string; message: string }[];
  startedAt: string;
  finishedAt?: string;
}

/** Runs read per page while a job counts or applies. */
const PAGE = 200;
/** Failures a job keeps the details of. */
const MAX_ERRORS = 50;
/** Jobs listed and kept (the oldest finished ones are forgotten). */
const KEPT_JOBS = 20;
/** Runs a preview shows. */
const SAMPLE = 20;

/**
 * Bulk actions over the runs a filter matches, kept in this server process's memory (a restart forgets them; the
 * runs' histories keep what was done). Each run's action is the engine call the single-run route makes, with the
 * same actor and reason; the filter is read a page at a time. Jobs stop when `closing` aborts.
 */
export class BulkJobs {
  private readonly jobs = new Map<string, BulkJobView>();

  constructor(
    private readonly engine: Engine,
    private readonly closing: AbortSignal,
  ) {}

  /** How many runs the filter matches now, and the first of them (at most 20); nothing changes. */
  async preview(filter: RunListQuery): Promise<{ matched: number; sample: RunSummary[] }> {
    const sample = (await this.engine.pageRuns({ ...filter, limit: SAMPLE })).runs;
    return { matched: sample.length < SAMPLE ? sample.length : await this.count(filter), sample };
  }

  /** Counts the matching runs, then applies the action to them in the background; the job as it begins. */
  async start(request: BulkRequest): Promise<BulkJobView> {
    // Runs started after the job began are not its business.
    const startedBefore = Math.min(request.filter.startedBefore ?? Infinity, Date.now() + 1);
    const filter: RunListQuery = { ...request.filter, startedBefore };
    const job: BulkJobView = {
      id: randomUUID(),
      action: request.action,
      total: await this.count(filter),
      done: 0,
      failed: 0,
      skipped: 0,
      state: 'running',
      errors: [],
      startedAt: new Date().toISOString(),
    };
    this.jobs.set(job.id, job);
    this.forgetOld();
    void this.apply(job, { ...request, filter }).catch((error) => this.fail(job, '', error));
    return { ...job, errors: [] };
  }

  /** The job of that id; E_JOB_NOT_FOUND when this server has none. */
  get(id: string): BulkJobView {
    const job = this.jobs.get(id);
    if (!job) throw new WaymarkError('E_JOB_NOT_FOUND', `this server has no bulk job '${id}'`, { details: { id } });
    return { ...job, errors: [...job.errors] };
  }

  /** The most recent jobs, newest first (at most 20). */
  list(): BulkJobView[] {
    return [...this.jobs.values()].reverse().map((job) => ({ ...job, errors: [...job.errors] }));
  }

  private async count(filter: RunListQuery): Promise<number> {
    let matched = 0;
    let cursor: string | undefined;
    do {
      const page = await this.engine.pageRuns({ ...filter, limit: 1000, cursor });
      matched += page.runs.length;
      cursor = page.next;
    } while (cursor !== undefined);
    return matched;
  }

  private async apply(job: BulkJobView, request: BulkRequest): Promise<void> {
    let cursor: string | undefined;
    try {
      do {
        const page = await this.engine.pageRuns({ ...request.filter, limit: PAGE, cursor });
        for (const run of page.runs) {
          if (this.closing.aborted) return;
          await this.applyTo(job, request, run);
        }
        cursor = page.next;
      } while (cursor !== undefined && !this.closing.aborted);
    } finally {
      job.state = 'finished';
      job.finishedAt = new Date().toISOString();
    }
  }

  private async applyTo(job: BulkJobView, request: BulkRequest, run: RunSummary): Promise<void> {
    const who = { reason: request.reason, ...(request.actor === undefined ? {} : { actor: request.actor }) };
    try {
      if (request.action === 'cancel') await this.engine.cancel(run.id, who);
      else if (request.action === 'retry-step') await this.engine.retryStep(run.id, who);
      else if (run.version === request.to) {
        job.skipped++;
        return;
      } else await this.engine.upgrade(run.id, { ...who, to: request.to! });
      job.done++;
    } catch (error) {
      if (error instanceof WaymarkError && error.code === 'E_RUN_STATE') job.skipped++;
      else this.fail(job, run.id, error);
    }
  }

  private fail(job: BulkJobView, runId: string, error: unknown): void {
    job.failed++;
    if (job.errors.length >= MAX_ERRORS) return;
    const code = error instanceof WaymarkError ? error.code : 'E_INTERNAL';
    job.errors.push({ runId, code, message: error instanceof Error ? error.message : String(error) });
  }

  /** Keeps the 20 most recent jobs, and every running one. */
  private forgetOld(): void {
    let excess = this.jobs.size - KEPT_JOBS;
    for (const [id, job] of this.jobs) {
      if (excess <= 0) break;
      if (job.state === 'finished') {
        this.jobs.delete(id);
        excess--;
      }
    }
  }
}

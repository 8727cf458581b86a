import type { Json } from '../core/types.js';
import type { DeployReportRecord, Store } from '../store/types.js';
import type { DeployCheckReport } from './deploy-check.js';
import type { DeployPlan } from './deploy-plan.js';

/** Where a deploy check or plan was asked for, and by whom (null: nobody known). */
export interface DeployReportOrigin {
  source: DeployReportRecord['source'];
  actor: string | null;
}

/** One workflow's line of a report's summary. */
interface WorkflowSummaryLine {
  workflow: string;
  classification: string;
  counts: Record<string, number>;
}

/** A check's or plan's summary: whether it is safe, runs per verdict (all workflows), and each workflow's class. */
export function summariseDeployReport(report: DeployCheckReport | DeployPlan): Json {
  const counts: Record<string, number> = {};
  const workflows: WorkflowSummaryLine[] = report.workflows.map((w) => {
    const check = 'check' in w ? w.check : w;
    for (const [verdict, n] of Object.entries(check.counts)) counts[verdict] = (counts[verdict] ?? 0) + n;
    return { workflow: w.workflow, classification: check.classification, counts: { ...check.counts } };
  });
  return { safe: report.safe, counts, workflows } as unknown as Json;
}

/**
 * Keeps a check's or plan's report in the store. A failing write does not fail the check: `warn` says so and
 * undefined is returned.
 */
export async function keepDeployReport(
  store: Store,
  kind: DeployReportRecord['kind'],
  report: DeployCheckReport | DeployPlan,
  origin: DeployReportOrigin,
  warn: (message: string, facts: Record<string, unknown>) => void,
): Promise<DeployReportRecord | undefined> {
  try {
    const full = JSON.parse(JSON.stringify(report)) as Json;
    return await store.deployReports.add({ kind, ...origin, summary: summariseDeployReport(report), report: full });
  } catch (error) {
    warn('the deploy report could not be kept (the check itself succeeded)', { kind, err: String(error) });
    return undefined;
  }
}

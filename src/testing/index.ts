/**
 * Replay testing for users' CI: commit real run histories (`waymark history export <run> > run.json`) and
 * fail the build when new workflow code no longer replays them.
 */
import { WaymarkError } from '../core/errors.js';
import { currentEpoch, type HistoryEvent, type Json } from '../core/types.js';
import { verifyReplay, type ReplayVerdict } from '../runtime/verify.js';
import type { WorkflowDefinition } from '../runtime/workflow.js';

/** What `waymark history export` writes: the run (as JSON) and its history. */
export interface ExportedHistory {
  run: { id: string; workflow: string; version: number; input: Json; epoch?: number };
  events: HistoryEvent[];
}

export interface ReplayResult {
  runId: string;
  verdict: ReplayVerdict;
}

/** Replays each exported history against `definition` in a sandbox where nothing executes. */
export async function replayHistories(
  definition: WorkflowDefinition,
  histories: readonly ExportedHistory[],
): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for (const { run, events } of histories) {
    results.push({
      runId: run.id,
      verdict: await verifyReplay(definition, run.input, currentEpoch(events, run.epoch ?? 0)),
    });
  }
  return results;
}

/** Throws E_NONDETERMINISM naming every history `definition` does not replay (for a test to fail on). */
export async function assertReplays(
  definition: WorkflowDefinition,
  histories: readonly ExportedHistory[],
): Promise<void> {
  const failures = (await replayHistories(definition, histories)).filter((r) => !r.verdict.ok);
  if (failures.length === 0) return;
  const lines = failures.map((f) => `${f.runId}: ${(f.verdict as { message: string }).message}`);
  throw new WaymarkError(
    'E_NONDETERMINISM',
    `${definition.name} v${definition.version} does not replay ` +
      `${failures.length} recorded run(s):\n${lines.join('\n')}`,
    {
      details: failures.map((f) => ({ runId: f.runId, verdict: f.verdict as unknown as Json })),
    },
  );
}

export type { ReplayVerdict };

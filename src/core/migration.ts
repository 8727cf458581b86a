import { WaymarkError } from './errors.js';
import { indexHistory } from './replay.js';
import type { HistoryEvent, Json, NewEvent } from './types.js';

/** What a migration's functions can read: the run's input and the (already transformed) step outputs. */
export interface MigrationHistory {
  readonly input: Json;
  /** The output recorded for a step, by its new name or its old one; undefined if the step never completed. */
  // biome-ignore lint/suspicious/noExplicitAny: the caller may name the type; by default it reads what it wrote
  output<T = any>(step: string): T;
}

/** Changes to the recorded steps. Step names are the source version's, except `insert[].name` and rename targets. */
export interface MigrationSteps {
  /** Old name -> new name. */
  rename?: Record<string, string>;
  /** Steps whose records are removed. */
  drop?: string[];
  /** Completed steps to add after a recorded one, with an output computed from the history. */
  insert?: { after: string; name: string; output: (history: MigrationHistory) => Json }[];
}

export interface MigrationConfig {
  workflow: string;
  from: number;
  to: number;
  /** Shown in the history and reports. (Default: '<workflow> v<from>->v<to>') */
  name?: string;
  steps?: MigrationSteps;
  /** Transforms of recorded outputs, by the source step name. */
  // biome-ignore lint/suspicious/noExplicitAny: a transform reads a recorded output of the shape its own workflow wrote
  outputs?: Record<string, (output: any) => Json>;
  /** Transform of the run's input. */
  // biome-ignore lint/suspicious/noExplicitAny: a transform reads the run's input of the shape its own workflow takes
  input?: (input: any) => Json;
  /** Must hold for the transformed history, or the migration is refused. */
  validate?: (history: MigrationHistory) => boolean;
}

/** A checked migration between two versions of one workflow. */
export interface MigrationDefinition extends MigrationConfig {
  readonly name: string;
}

/** Checks a migration's shape; bad migrations fail here, before any run is touched. */
export function defineMigration(config: MigrationConfig): MigrationDefinition {
  const bad = (reason: string) =>
    new WaymarkError(
      'E_INVALID_INPUT',
      `migration ${config?.workflow ?? '?'} v${config?.from}->v${config?.to}: ${reason}`,
    );
  if (!config || typeof config.workflow !== 'string' || config.workflow === '')
    throw bad('workflow must be a workflow name');
  if (
    !Number.isInteger(config.from) ||
    !Number.isInteger(config.to) ||
    config.from < 1 ||
    config.to < 1 ||
    config.from === config.to
  ) {
    throw bad('from and to must be two different positive integer versions');
  }
  for (const [key, fn] of Object.entries({ input: config.input, validate: config.validate, ...config.outputs })) {
    if (fn !== undefined && typeof fn !== 'function') throw bad(`${key} must be a function`);
  }
  for (const insert of config.steps?.insert ?? []) {
    if (typeof insert.name !== 'string' || typeof insert.after !== 'string' || typeof insert.output !== 'function') {
      throw bad('each insert needs { after, name, output(history) }');
    }
  }
  return Object.freeze({ ...config, name: config.name ?? `${config.workflow} v${config.from}->v${config.to}` });
}

/** A history rewritten for the target version: new events (seqs renumbered) and the new input. */
export interface TransformedHistory {
  events: HistoryEvent[];
  input: Json;
}

/**
 * Rewrites the current epoch's history for the target version: renames, drops and inserts steps,
 * transforms recorded outputs and the input. Pure: migration code runs, nothing is written.
 */
export function transformHistory(
  migration: MigrationDefinition,
  history: readonly HistoryEvent[],
  input: Json,
): TransformedHistory {
  const rename = migration.steps?.rename ?? {};
  const drop = new Set(migration.steps?.drop ?? []);
  const newInput = migration.input ? (migration.input(structuredClone(input)) as Json) : input;
  const outputs = new Map<string, Json | undefined>();
  const view: MigrationHistory = {
    input: newInput,
    output: (step) => (outputs.has(step) ? outputs.get(step) : outputs.get(rename[step] ?? step)) as never,
  };
  const events: HistoryEvent[] = [];
  const at = history[0]?.at ?? 0;
  const push = (e: NewEvent & { at: number }) => events.push({ ...e, pos: events.length });
  const started = history.find((e) => e.type === 'run_started');
  push({
    type: 'run_started',
    at,
    data: { workflow: migration.workflow, ...started?.data, version: migration.to, input: newInput },
  });
  for (const marker of history.filter((e) => e.type === 'patch_marker'))
    push({ type: marker.type, at: marker.at, data: marker.data });
  // New seqs in the order of the old ones; inserted steps take the seq after the step they follow.
  const ops = [...indexHistory(history).values()].sort((a, b) => a.seq - b.seq);
  const newSeq = new Map<number, number>();
  const inserts = new Map<number, { name: string; seq: number; output: (history: MigrationHistory) => Json }[]>();
  let next = 0;
  for (const op of ops) {
    if (op.kind === 'step' && drop.has(op.name)) continue;
    newSeq.set(op.seq, next++);
    const after = (migration.steps?.insert ?? []).filter((i) => i.after === op.name && op.kind === 'step');
    if (after.length)
      inserts.set(
        op.seq,
        after.map((i) => ({ name: i.name, seq: next++, output: i.output })),
      );
  }
  // Events keep their order (the order results reached the code); an inserted step completes right after
  // the last event of the step it follows.
  const lastEvent = new Map(ops.map((op) => [op.seq, op.events[op.events.length - 1]]));
  const opOf = new Map<HistoryEvent, (typeof ops)[number]>();
  for (const op of ops) for (const e of op.events) opOf.set(e, op);
  for (const e of history) {
    const op = opOf.get(e);
    if (!op || !newSeq.has(op.seq)) continue;
    const name = op.kind === 'step' ? (rename[op.name] ?? op.name) : op.name;
    const { pos: _pos, epoch: _epoch, ...recorded } = e;
    const copy = {
      ...recorded,
      seq: newSeq.get(op.seq)!,
      ...(e.name !== undefined ? { name: op.kind === 'step' ? name : e.name } : {}),
    };
    const transform = migration.outputs?.[op.name];
    if (copy.type === 'step_completed' && transform)
      copy.data = { ...copy.data, output: transform(structuredClone(copy.data?.output)) };
    push(copy);
    if (copy.type === 'step_completed') outputs.set(name, copy.data?.output);
    if (lastEvent.get(op.seq) !== e) continue;
    for (const insert of inserts.get(op.seq) ?? []) {
      const output = insert.output(view);
      outputs.set(insert.name, output);
      push({
        type: 'step_completed',
        at,
        seq: insert.seq,
        name: insert.name,
        data: { output, migrated: migration.name },
      });
    }
  }
  return { events, input: newInput };
}

/** Runs the migration's validate over a transformed history. */
export function validateMigration(migration: MigrationDefinition, transformed: TransformedHistory): boolean {
  if (!migration.validate) return true;
  const outputs = new Map<string, Json | undefined>();
  for (const e of transformed.events) if (e.type === 'step_completed') outputs.set(e.name!, e.data?.output);
  const rename = migration.steps?.rename ?? {};
  return (
    migration.validate({
      input: transformed.input,
      output: (step) => (outputs.get(step) ?? outputs.get(rename[step] ?? step)) as never,
    }) === true
  );
}

/**
 * Structural diff of two declarative workflow versions, for deploy checks. Tasks are matched by ref; each task
 * list (the top-level `tasks`, a switch case, a fork branch, a loop body) is compared with its counterpart.
 *
 * - identical: nothing that executes differs.
 * - config_only: the same refs in the same lists and order; only inputParameters or other settings differ.
 * - additive: tasks appended at the end of lists, new switch cases; nothing removed, moved or retyped.
 * - breaking: a task removed, inserted before existing ones, moved, reordered or retyped; a case or branch removed;
 *   a fork branch added (runs already inside the fork would never start it).
 */
import type { Json } from '../core/types.js';
import { keyPath } from './problems.js';
import {
  canonicalJson,
  executionView,
  taskView,
  type TaskType,
  type WorkflowDef,
  type WorkflowTask,
} from './definitions.js';

/** One task of a graph, with where it sits. */
export interface FlatTask {
  /** Path of the task, like `tasks[1].decisionCases.big[0]`. */
  path: string;
  /** Path of the list holding it, like `tasks[1].decisionCases.big`. */
  listPath: string;
  /** Identity of that list across versions: `tasks`, or the parent's ref and slot (`route/decisionCases/big`). */
  listKey: string;
  /** The ref of the SWITCH (or DECISION), FORK_JOIN or DO_WHILE holding the list; absent at the top level. */
  parentRef?: string;
  index: number;
  task: WorkflowTask;
}

/** Every task of a definition, depth first in execution order (a parent before its nested tasks). */
export function flattenTasks(def: WorkflowDef): FlatTask[] {
  const out: FlatTask[] = [];
  const walk = (list: WorkflowTask[], listPath: string, listKey: string, parentRef: string | undefined): void => {
    list.forEach((task, index) => {
      const path = `${listPath}[${index}]`;
      out.push({ path, listPath, listKey, ...(parentRef === undefined ? {} : { parentRef }), index, task });
      for (const nested of nestedLists(task, path)) walk(nested.list, nested.path, nested.key, task.taskReferenceName);
    });
  };
  walk(def.tasks, 'tasks', 'tasks', undefined);
  return out;
}

/** The task lists a task holds, each with its path and its identity (`ref/slot`). */
export function nestedLists(
  task: WorkflowTask,
  path: string,
): Array<{ list: WorkflowTask[]; path: string; key: string; slot: string }> {
  const ref = task.taskReferenceName;
  const entry = (list: WorkflowTask[], slot: string, suffix: string) => ({
    list,
    path: path + suffix,
    key: `${ref}/${slot}`,
    slot,
  });
  if (task.type === 'SWITCH' || task.type === 'DECISION') {
    return [
      ...Object.entries(task.decisionCases).map(([value, list]) =>
        entry(list, `decisionCases/${value}`, `.decisionCases${keyPath(value)}`),
      ),
      entry(task.defaultCase, 'defaultCase', '.defaultCase'),
    ];
  }
  if (task.type === 'FORK_JOIN')
    return task.forkTasks.map((branch, index) => entry(branch, `forkTasks/${index}`, `.forkTasks[${index}]`));
  if (task.type === 'DO_WHILE') return [entry(task.loopOver, 'loopOver', '.loopOver')];
  return [];
}

export type ChangeKind = 'identical' | 'config_only' | 'additive' | 'breaking';

export interface StructuralDiff {
  kind: ChangeKind;
  /** One line per change, breaking ones first. */
  reasons: string[];
  /**
   * Tasks only in `to`: appended at the end of a list, in a new list
   * (case, branch, new parent), or inserted before existing tasks.
   */
  added: Array<{ ref: string; type: TaskType; path: string; placement: 'appended' | 'new_list' | 'inserted' }>;
  /** Tasks only in `from` (paths in `from`). */
  removed: Array<{ ref: string; type: TaskType; path: string }>;
  /** Tasks now in another list. */
  moved: Array<{ ref: string; from: string; to: string }>;
  /** Lists whose common refs come in another order (refs in order, before and after). */
  reordered: Array<{ path: string; from: string[]; to: string[] }>;
  typeChanged: Array<{ ref: string; path: string; from: TaskType; to: TaskType }>;
  /** Switch cases and fork branches new in `to`, of tasks present in both. */
  listsAdded: Array<{ path: string; parentRef: string; slot: string }>;
  /** Switch cases and fork branches gone from `to` (paths in `from`). */
  listsRemoved: Array<{ path: string; parentRef: string; slot: string }>;
  /** inputParameters keys added, removed or changed, per task. */
  inputChanged: Array<{ ref: string; path: string; keys: string[] }>;
  /** Other task fields changed (expression, joinOn, optional, name, taskDefinition...), per task. */
  optionsChanged: Array<{ ref: string; path: string; fields: string[] }>;
  /** Workflow-level fields changed (outputParameters, timeoutSeconds, variables...). */
  workflowChanged: string[];
}

/** Compares two definitions (usually two versions of one workflow) task by task. Paths are in `to` unless noted. */
export function structuralDiff(from: WorkflowDef, to: WorkflowDef): StructuralDiff {
  const before = flattenTasks(from);
  const after = flattenTasks(to);
  const beforeByRef = new Map(before.map((flat) => [flat.task.taskReferenceName, flat]));
  const afterByRef = new Map(after.map((flat) => [flat.task.taskReferenceName, flat]));
  const beforeLists = listsOf(from);
  const afterLists = listsOf(to);
  const diff: StructuralDiff = {
    kind: 'identical',
    reasons: [],
    added: [],
    removed: [],
    moved: [],
    reordered: [],
    typeChanged: [],
    listsAdded: [],
    listsRemoved: [],
    inputChanged: [],
    optionsChanged: [],
    workflowChanged: [],
  };

  for (const flat of before) {
    if (!afterByRef.has(flat.task.taskReferenceName))
      diff.removed.push({ ref: flat.task.taskReferenceName, type: flat.task.type, path: flat.path });
  }
  for (const flat of after) {
    const ref = flat.task.taskReferenceName;
    const old = beforeByRef.get(ref);
    if (!old) {
      diff.added.push({
        ref,
        type: flat.task.type,
        path: flat.path,
        placement: placement(flat, afterLists.get(flat.listKey)!, beforeLists, beforeByRef),
      });
      continue;
    }
    if (old.listKey !== flat.listKey) diff.moved.push({ ref, from: old.path, to: flat.path });
    if (old.task.type !== flat.task.type) {
      diff.typeChanged.push({ ref, path: flat.path, from: old.task.type, to: flat.task.type });
      continue;
    }
    const keys = changedKeys(old.task.inputParameters, flat.task.inputParameters);
    if (keys.length) diff.inputChanged.push({ ref, path: flat.path, keys });
    const fields = changedKeys(taskOptions(old.task), taskOptions(flat.task));
    if (fields.length) diff.optionsChanged.push({ ref, path: flat.path, fields });
  }

  for (const [key, list] of afterLists) {
    const old = beforeLists.get(key);
    if (!old) {
      if (list.parentRef && sameParent(list.parentRef, beforeByRef, afterByRef))
        diff.listsAdded.push({ path: list.path, parentRef: list.parentRef, slot: list.slot });
      continue;
    }
    const common = (refs: string[], other: string[]) => refs.filter((ref) => other.includes(ref));
    const was = common(old.refs, list.refs);
    const now = common(list.refs, old.refs);
    if (canonicalJson(was) !== canonicalJson(now)) diff.reordered.push({ path: list.path, from: was, to: now });
  }
  for (const [key, list] of beforeLists) {
    if (!afterLists.has(key) && list.parentRef && sameParent(list.parentRef, beforeByRef, afterByRef)) {
      diff.listsRemoved.push({ path: list.path, parentRef: list.parentRef, slot: list.slot });
    }
  }
  diff.workflowChanged = changedKeys(workflowSettings(from), workflowSettings(to));
  classify(diff);
  return diff;
}

function classify(diff: StructuralDiff): void {
  const breaking: string[] = [];
  const additive: string[] = [];
  const config: string[] = [];
  for (const task of diff.removed) breaking.push(`task '${task.ref}' removed from ${task.path}`);
  for (const task of diff.added) {
    if (task.placement === 'inserted')
      breaking.push(`task '${task.ref}' inserted at ${task.path}, before existing tasks`);
    else
      additive.push(
        `task '${task.ref}' added at ${task.path}${task.placement === 'appended' ? ' (appended)' : ' (new list)'}`,
      );
  }
  for (const task of diff.moved) breaking.push(`task '${task.ref}' moved from ${task.from} to ${task.to}`);
  for (const list of diff.reordered)
    breaking.push(`${list.path} reordered: [${list.from.join(', ')}] -> [${list.to.join(', ')}]`);
  for (const task of diff.typeChanged)
    breaking.push(`task '${task.ref}' at ${task.path} changed type ${task.from} -> ${task.to}`);
  for (const list of diff.listsRemoved)
    breaking.push(`${describeSlot(list.slot)} removed from '${list.parentRef}' (${list.path})`);
  for (const list of diff.listsAdded) {
    if (list.slot.startsWith('forkTasks/'))
      breaking.push(
        `${describeSlot(list.slot)} added to '${list.parentRef}' (${list.path}): ` +
          `runs already inside the fork would never start it`,
      );
    else additive.push(`${describeSlot(list.slot)} added to '${list.parentRef}' (${list.path})`);
  }
  for (const task of diff.inputChanged)
    config.push(`task '${task.ref}' inputParameters changed: ${task.keys.join(', ')}`);
  for (const task of diff.optionsChanged) config.push(`task '${task.ref}' settings changed: ${task.fields.join(', ')}`);
  if (diff.workflowChanged.length) config.push(`workflow settings changed: ${diff.workflowChanged.join(', ')}`);
  diff.kind = breaking.length ? 'breaking' : additive.length ? 'additive' : config.length ? 'config_only' : 'identical';
  diff.reasons = [...breaking, ...additive, ...config];
}

interface ListInfo {
  path: string;
  parentRef?: string;
  slot: string;
  refs: string[];
}

/** Every task list of a definition by identity (`tasks`, `ref/slot`). */
function listsOf(def: WorkflowDef): Map<string, ListInfo> {
  const lists = new Map<string, ListInfo>([
    ['tasks', { path: 'tasks', slot: 'tasks', refs: def.tasks.map((task) => task.taskReferenceName) }],
  ]);
  for (const flat of flattenTasks(def)) {
    for (const nested of nestedLists(flat.task, flat.path)) {
      lists.set(nested.key, {
        path: nested.path,
        parentRef: flat.task.taskReferenceName,
        slot: nested.slot,
        refs: nested.list.map((task) => task.taskReferenceName),
      });
    }
  }
  return lists;
}

/** Where a new task sits: after every task its list shares with `from`, in a list `from` lacks, or before old tasks. */
function placement(
  flat: FlatTask,
  list: ListInfo,
  beforeLists: Map<string, ListInfo>,
  beforeByRef: Map<string, FlatTask>,
): 'appended' | 'new_list' | 'inserted' {
  const old = beforeLists.get(flat.listKey);
  if (!old) return 'new_list';
  const laterOld = list.refs.slice(flat.index + 1).some((ref) => beforeByRef.has(ref));
  return laterOld ? 'inserted' : 'appended';
}

/** A list's parent exists in both versions with the same type (else its own change already says it all). */
function sameParent(ref: string, beforeByRef: Map<string, FlatTask>, afterByRef: Map<string, FlatTask>): boolean {
  const a = beforeByRef.get(ref);
  const b = afterByRef.get(ref);
  return a !== undefined && b !== undefined && a.task.type === b.task.type;
}

function describeSlot(slot: string): string {
  if (slot.startsWith('decisionCases/')) return `switch case '${slot.slice('decisionCases/'.length)}'`;
  if (slot.startsWith('forkTasks/')) return `fork branch ${slot.slice('forkTasks/'.length)}`;
  return slot;
}

/** The settings of a task other than its ref, type, inputParameters, description and nested lists. */
function taskOptions(task: WorkflowTask): Record<string, Json> {
  const view = taskView(task) as Record<string, Json>;
  for (const key of [
    'taskReferenceName',
    'type',
    'inputParameters',
    'decisionCases',
    'defaultCase',
    'forkTasks',
    'loopOver',
  ])
    delete view[key];
  return view;
}

/** The workflow-level settings that execute, name included (version and tasks left out). */
function workflowSettings(def: WorkflowDef): Record<string, Json> {
  const { tasks: _tasks, ...settings } = executionView(def) as Record<string, Json>;
  return { name: def.name, ...settings };
}

/** Keys whose values differ (added, removed or changed), sorted. */
function changedKeys(a: Record<string, Json>, b: Record<string, Json>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((key) => canonicalJson(a[key]) !== canonicalJson(b[key])).sort();
}

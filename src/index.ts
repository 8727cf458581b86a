/** Waymark's public API. Everything else is internal. */
export { defineWorkflow } from './runtime/workflow.js';
export type {
  WorkflowContext,
  WorkflowDefinition,
  WorkflowConfig,
  StepInfo,
  StepOptions,
  SignalWaitOptions,
  CompensationInfo,
  LockOptions,
} from './runtime/workflow.js';
export { Engine } from './engine.js';
export type {
  EngineOptions,
  StartOptions,
  StartResult,
  RunChange,
  RunListQuery,
  DeployReportOptions,
} from './engine.js';
export { WaymarkError, NonRetryableError } from './core/errors.js';
export type { ErrorCode } from './core/errors.js';
export type {
  Run,
  RunStatus,
  HistoryEvent,
  HistoryEventOf,
  EventType,
  EventData,
  ErrorInfo,
  WaitInfo,
  RetryPolicy,
  Duration,
  Json,
  StepEffect,
  FailurePolicy,
  OperatorAction,
} from './core/types.js';
export type { RunDescription, EffectSummary } from './core/describe.js';
export type { OperatorOptions, OperatorResult, SkipStepOptions } from './runtime/operator.js';
export type {
  DeployReportRecord,
  PollRecord,
  QueueDepth,
  RunFilter,
  RunPage,
  RunPageQuery,
  RunSummary,
  WorkerRecord,
} from './store/types.js';
export type { VersionSummary } from './versions/accounting.js';
export type { UpgradeOptions, UpgradeResult, MigrateAllOptions, MigrateAllReport } from './versions/lifecycle.js';
export { defineMigration } from './core/migration.js';
export type { MigrationConfig, MigrationDefinition, MigrationHistory, MigrationSteps } from './core/migration.js';
export type { ReplayVerdict } from './runtime/verify.js';
export type { VersionStatus, PatchUsage, Route } from './store/types.js';
export type { RestartOptions, RerunOptions } from './versions/restart.js';
export type {
  DeployCheckOptions,
  DeployCheckReport,
  WorkflowCheck,
  RunCheck,
  RunVerdict,
  ChangeClass,
} from './versions/deploy-check.js';
export type { OutputSchema } from './core/schema.js';
export type { Rollout, RolloutOptions, RolloutStatus, RolloutKind } from './versions/rollout.js';
export type { RolloutAction } from './versions/rollout-steps.js';
export type { RolloutTransitionKind } from './versions/rollout-transitions.js';
export type { EngineLogger } from './runtime/kernel.js';
export type { RetentionOptions } from './runtime/retention.js';
export type { StartTrigger, RunOutcome, StepOutcome } from './runtime/telemetry.js';
export type { MetricsOptions, WaymarkMetrics } from './observability/metrics.js';
export type { TracingOption } from './observability/tracing-setup.js';
export type { DeployPlan, WorkflowPlan, PatchSuggestion, VersionHandling } from './versions/deploy-plan.js';
export type { ScheduleSpec, ScheduleChanges, SlotOutcome, Schedules } from './schedules/schedules.js';
export type { OverlapPolicy, ScheduleRecord, SlotRecord, SlotDecision } from './store/types.js';
export type { EventService } from './events/service.js';
export type {
  EventActionContext,
  EventHandlerFn,
  EventMessage,
  EventOptions,
} from './events/types.js';
export type { ConductorEventHandler, HandlerAction } from './events/conductor-handlers.js';

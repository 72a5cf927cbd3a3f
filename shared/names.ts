// Names that the client, the worker and the workflows must agree on. One place, so they cannot drift.
// Types only: the keys are plain { name, type } records (what defineSearchAttributeKey makes), so the client
// loads @temporalio/common with require rather than as an ESM import (see client/temporalClient.ts).
import type { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

const searchAttributeKey = <T extends SearchAttributeType>(name: string, type: T): ReturnType<typeof defineSearchAttributeKey<T>> => ({ name, type });

/** The task queue the Refit worker polls unless REFIT_TASK_QUEUE says otherwise. */
export const DEFAULT_TASK_QUEUE = 'refit';

/** Workflow types, as registered by the worker and started by the client. */
export const WorkflowTypes = {
  buildDeploy: 'buildDeploy',
  /** The deploy phase of a build, one at a time per model (its workflow id names the model). */
  promoteBuild: 'promoteBuild',
  metricTriggerCheck: 'metricTriggerCheck',
  rollbackDeploy: 'rollbackDeploy',
  planRun: 'planRun',
  scaleStatus: 'scaleStatus',
  undeploy: 'undeploy',
} as const;

/** Queries a running BuildDeploy answers. */
export const QueryNames = {
  /** The current step and what the run has decided so far (RunStatus). */
  status: 'refit.status',
} as const;

/** Updates (and the equivalent signal, for clients without updates) a waiting run accepts. */
export const UpdateNames = {
  decideApproval: 'refit.decideApproval',
} as const;

export const SignalNames = {
  decideApproval: 'refit.decideApprovalSignal',
  /** From a run's promotion to the run: its canary steps so far, so that the run's status shows them live. */
  canaryProgress: 'refit.canaryProgress',
  /** From a run waiting for its model's promotion to that promotion: tell me when you are done. */
  promotionWaiting: 'refit.promotionWaiting',
  /** From a promotion, as it ends, to the runs that said they wait: your turn. */
  promotionDone: 'refit.promotionDone',
} as const;

/**
 * Custom search attributes Refit sets on its runs, so they are found in the Web UI and by `refit history`.
 * The embedded dev server registers them at start; on a real cluster they are registered once per
 * namespace (see the README).
 */
export const SearchAttributeKeys = {
  automation: searchAttributeKey('RefitAutomation', 'KEYWORD'),
  modelId: searchAttributeKey('RefitModelId', 'KEYWORD'),
  buildId: searchAttributeKey('RefitBuildId', 'KEYWORD'),
  gitCommit: searchAttributeKey('RefitGitCommit', 'KEYWORD'),
  conditionOutcome: searchAttributeKey('RefitConditionOutcome', 'KEYWORD'),
  deployed: searchAttributeKey('RefitDeployed', 'BOOL'),
  variation: searchAttributeKey('RefitVariation', 'KEYWORD'),
  /** pending while a run waits for a person; then approved, rejected or timed_out. */
  approval: searchAttributeKey('RefitApproval', 'KEYWORD'),
  /** On schedules only: the hash of the definition they were made from, so one listing shows which changed. */
  definitionHash: searchAttributeKey('RefitDefinitionHash', 'KEYWORD'),
} as const;

/** The same attributes as `temporal` CLI arguments: name → Keyword, Bool, … */
export const SearchAttributes: Record<string, string> = Object.fromEntries(
  Object.values(SearchAttributeKeys).map((key) => [key.name, key.type.charAt(0) + key.type.slice(1).toLowerCase()]),
);

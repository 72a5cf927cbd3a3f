// Names that the client, the worker and the workflows must agree on. One place, so they cannot drift.

/** The task queue the Refit worker polls unless REFIT_TASK_QUEUE says otherwise. */
export const DEFAULT_TASK_QUEUE = 'refit';

/** Workflow types, as registered by the worker and started by the client. */
export const WorkflowTypes = {
  smokeTest: 'smokeTest',
} as const;

/**
 * Custom search attributes Refit sets on its runs, with their Temporal types. The embedded dev server
 * registers them at start; on a real cluster `refit setup` (or `temporal operator search-attribute create`)
 * must register them once per namespace.
 */
export const SearchAttributes = {
  RefitAutomation: 'Keyword',
  RefitModelId: 'Keyword',
  RefitBuildId: 'Keyword',
  RefitGitCommit: 'Keyword',
  RefitConditionOutcome: 'Keyword',
  RefitDeployed: 'Bool',
  RefitVariation: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof SearchAttributes;

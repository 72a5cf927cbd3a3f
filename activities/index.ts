// Every side effect of Refit's workflows, one module per kind of step. Each activity adapts a plain,
// separately tested function to Temporal (heartbeats with progress, cancellation); the worker's activity
// interceptor turns RefitErrors into non-retryable failures for all of them.
import type { ActivityDependencies } from './dependencies.js';
import { createDeployActivities } from './deployActivities.js';
import { createBuildActivities } from './steps/build.js';
import { createConditionActivities } from './steps/condition.js';
import { createRunActivities } from './steps/runs.js';
import { createWorkspaceActivities } from './steps/workspace.js';

export type { ActivityDependencies } from './dependencies.js';

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createWorkspaceActivities(deps),
    ...createBuildActivities(deps),
    ...createConditionActivities(deps),
    ...createDeployActivities(deps),
    ...createRunActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

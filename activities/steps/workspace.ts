// Where a run's files live: the worker that claims the workspace runs every step that uses them.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { WorkspaceClaim } from '../../shared/runTypes.js';
import type { ActivityDependencies } from '../dependencies.js';

export const buildDirOf = (deps: ActivityDependencies, buildId: string) => path.join(deps.refitHome, 'builds', buildId);

export function createWorkspaceActivities(deps: ActivityDependencies) {
  return {
    /** The task queue of the worker that takes this: steps on files of this machine run there next. */
    async hostTaskQueue(): Promise<string> {
      return deps.hostTaskQueue;
    },

    /** Claims a build's folder on this machine, and hands the run this worker's time limits. */
    async claimWorkspace(input: { buildId: string }): Promise<WorkspaceClaim> {
      const buildDir = buildDirOf(deps, input.buildId);
      mkdirSync(buildDir, { recursive: true });
      return { hostTaskQueue: deps.hostTaskQueue, buildDir, limits: deps.limits };
    },
  };
}

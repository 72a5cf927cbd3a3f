import { describeThisProcess } from './workerInfo.js';

/** What activities need from the outside world, passed in so tests can hand over real, isolated parts. */
export type ActivityDependencies = Record<string, never>;

/** Builds the activity functions the worker registers, closed over their dependencies. */
export function createActivities(_deps: ActivityDependencies = {}) {
  return {
    async describeWorker() {
      return describeThisProcess();
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

// How much one worker takes on at once, from REFIT_WORKER_*_SLOTS, with defaults that fit the machine:
// a build per core (a build is a Python process that trains), two clones per core (mostly waiting on
// the network), and host-queue steps for both plus the instant ones (metrics, conditions, deploys).
import os from 'node:os';

export interface WorkerSlotSettings {
  /** Local builds at once (dependencies, tests, training); Job builds on a cluster are not counted. */
  builds: number;
  /** Clones at once. */
  clones: number;
  /** Steps on this worker's own queue at once (clones and builds among them): Temporal keeps the rest queued. */
  hostSteps: number;
  /** Workflow tasks at once (the SDK's default when unset). */
  workflowTasks?: number;
  /**
   * Runs whose workflow state the worker keeps in memory between their steps; a run beyond them is replayed
   * from its history at its next step. Runs beyond the step slots mostly wait for one, so 15 per step slot
   * (the SDK's own default follows the heap limit instead: ~900 on a 4 GiB heap, the worker's memory growing
   * with the runs in flight).
   */
  cachedRuns: number;
}

export const SLOT_VARIABLES = {
  builds: 'REFIT_WORKER_BUILD_SLOTS',
  clones: 'REFIT_WORKER_CLONE_SLOTS',
  hostSteps: 'REFIT_WORKER_STEP_SLOTS',
  workflowTasks: 'REFIT_WORKER_WORKFLOW_SLOTS',
  cachedRuns: 'REFIT_WORKER_CACHED_RUNS',
} as const;

/** The SDK's workflow task slots when REFIT_WORKER_WORKFLOW_SLOTS is unset. */
const SDK_WORKFLOW_TASKS = 40;
/** Bench figure 3, one trial pair at N = 500 on 2 cores: 150 cached runs took as many runs/s as the SDK's ~900, in 80 MiB less. */
const CACHED_RUNS_PER_STEP_SLOT = 15;

export function workerSlotSettings(env: NodeJS.ProcessEnv, cores = os.availableParallelism()): WorkerSlotSettings {
  const read = (key: keyof typeof SLOT_VARIABLES, least = 1, most = 10_000): number | undefined => {
    const name = SLOT_VARIABLES[key];
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    const number = Number(value);
    if (!/^\d+$/.test(value.trim()) || number < least || number > most)
      throw new Error(`${name} must be a whole number from ${least} to ${most}, not ${JSON.stringify(value)}`);
    return number;
  };
  const builds = read('builds') ?? Math.max(1, cores);
  const clones = read('clones') ?? Math.max(2, 2 * cores);
  const hostSteps = read('hostSteps') ?? builds + clones + Math.max(4, 2 * cores);
  const workflowTasks = read('workflowTasks');
  // The SDK keeps at least 2, and runs no more workflow tasks at once than it caches runs.
  const cachedRunsSet = read('cachedRuns', 2, 100_000);
  if (cachedRunsSet && cachedRunsSet < (workflowTasks ?? SDK_WORKFLOW_TASKS))
    throw new Error(
      `${SLOT_VARIABLES.cachedRuns} (${cachedRunsSet}) must be at least the workflow task slots (${workflowTasks ?? `${SDK_WORKFLOW_TASKS}, the default`}): lower ${SLOT_VARIABLES.workflowTasks} too`,
    );
  const cachedRuns = cachedRunsSet ?? Math.max(workflowTasks ?? SDK_WORKFLOW_TASKS, CACHED_RUNS_PER_STEP_SLOT * hostSteps);
  return { builds, clones, hostSteps, ...(workflowTasks ? { workflowTasks } : {}), cachedRuns };
}

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
}

export const SLOT_VARIABLES = {
  builds: 'REFIT_WORKER_BUILD_SLOTS',
  clones: 'REFIT_WORKER_CLONE_SLOTS',
  hostSteps: 'REFIT_WORKER_STEP_SLOTS',
  workflowTasks: 'REFIT_WORKER_WORKFLOW_SLOTS',
} as const;

export function workerSlotSettings(env: NodeJS.ProcessEnv, cores = os.availableParallelism()): WorkerSlotSettings {
  const read = (key: keyof typeof SLOT_VARIABLES): number | undefined => {
    const name = SLOT_VARIABLES[key];
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    const number = Number(value);
    if (!/^\d+$/.test(value.trim()) || number < 1 || number > 10_000)
      throw new Error(`${name} must be a whole number from 1 to 10000, not ${JSON.stringify(value)}`);
    return number;
  };
  const builds = read('builds') ?? Math.max(1, cores);
  const clones = read('clones') ?? Math.max(2, 2 * cores);
  const hostSteps = read('hostSteps') ?? builds + clones + Math.max(4, 2 * cores);
  const workflowTasks = read('workflowTasks');
  return { builds, clones, hostSteps, ...(workflowTasks ? { workflowTasks } : {}) };
}

// The one table of time limits: the worker reads its settings into StepLimits, the worker that claims a
// build's workspace hands them to the workflow (so they are in the history, and a replay sees the same),
// and the workflow derives every step's activity options from them here. A limit the activity enforces
// and the timeout Temporal enforces can therefore never disagree.

export interface StepLimits {
  /** A whole build: dependencies, tests and training together (REFIT_BUILD_TIMEOUT_MINUTES). */
  buildMinutes: number;
  /** How long a build's metric may take to appear in the metric source (REFIT_METRIC_WAIT_MINUTES). */
  metricWaitMinutes: number;
  /** One SQL query on the analytics store (REFIT_QUERY_TIMEOUT_MINUTES). */
  queryMinutes: number;
  /**
   * How long a step on a worker's own task queue may take in all, waiting in the queue and every attempt
   * included, before the run fails saying the worker did not come back (REFIT_HOST_STEP_DEADLINE_HOURS).
   */
  hostDeadlineHours: number;
}

export const DEFAULT_STEP_LIMITS: StepLimits = { buildMinutes: 120, metricWaitMinutes: 1, queryMinutes: 1, hostDeadlineHours: 24 };

/** A worker that stops heartbeating for this long is taken for lost; long steps heartbeat every few seconds. */
export const HEARTBEAT_TIMEOUT_SECONDS = 30;
export const HEARTBEAT_EVERY_MS = 5_000;

/** Time an activity gets on top of the work it bounds itself: starting processes, reading results. */
const MARGIN_SECONDS = 120;

export type HostStep = 'clone' | 'build' | 'metrics' | 'condition' | 'guard' | 'deploy' | 'rollback' | 'canaryWeight' | 'status';

/** Start-to-close of each step on the host, in seconds. */
export function hostStepSeconds(step: HostStep, limits: StepLimits, deployTimeoutSeconds: number): number {
  switch (step) {
    case 'clone':
      return 30 * 60;
    case 'build':
      return limits.buildMinutes * 60 + MARGIN_SECONDS;
    case 'metrics':
      return limits.metricWaitMinutes * 60 + MARGIN_SECONDS;
    case 'condition':
    case 'guard':
      // A query, and a read of what serves.
      return limits.queryMinutes * 60 + MARGIN_SECONDS;
    case 'deploy':
    case 'rollback':
      return deployTimeoutSeconds + 5 * 60;
    case 'canaryWeight':
    case 'status':
      return 5 * 60;
  }
}

/** Reads the limits from a worker's environment, checking each. */
export function stepLimitsFromEnvironment(env: Record<string, string | undefined>): StepLimits {
  const number = (name: string, fallback: number) => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not "${text}"`);
    return value;
  };
  const limits = {
    buildMinutes: number('REFIT_BUILD_TIMEOUT_MINUTES', DEFAULT_STEP_LIMITS.buildMinutes),
    metricWaitMinutes: number('REFIT_METRIC_WAIT_MINUTES', DEFAULT_STEP_LIMITS.metricWaitMinutes),
    queryMinutes: number('REFIT_QUERY_TIMEOUT_MINUTES', DEFAULT_STEP_LIMITS.queryMinutes),
    hostDeadlineHours: number('REFIT_HOST_STEP_DEADLINE_HOURS', DEFAULT_STEP_LIMITS.hostDeadlineHours),
  };
  // A build is tried up to three times: the deadline must leave room for that.
  if (limits.hostDeadlineHours * 60 < limits.buildMinutes * 3) {
    throw new Error(
      `REFIT_HOST_STEP_DEADLINE_HOURS (${limits.hostDeadlineHours}) is shorter than three builds of REFIT_BUILD_TIMEOUT_MINUTES (${limits.buildMinutes}): raise it to at least ${Math.ceil((limits.buildMinutes * 3) / 60)}`,
    );
  }
  return limits;
}

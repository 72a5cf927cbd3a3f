// How workflow code reads a failure: its innermost cause, whether it is one Temporal reports (an activity,
// a child, a timeout, a cancellation) or a bug in the workflow itself, and what to tell the user.
import { ActivityFailure, isCancellation, TemporalFailure, TimeoutFailure } from '@temporalio/workflow';
import { ErrorTypes } from '../shared/errors.js';

/**
 * The failure that says what happened: the first one in the chain with a type (an activity's or a child's
 * ApplicationFailure carries the message and type that matter; what caused it lies below), else the innermost.
 */
export function rootCause(err: unknown): { message: string; type?: string } {
  let current = err as { message?: string; cause?: unknown; type?: string | null } | undefined;
  let innermost = current;
  while (current) {
    if (typeof current.type === 'string' && current.type) return { message: current.message ?? '', type: current.type };
    innermost = current;
    current = current.cause as typeof current;
  }
  return { message: innermost?.message ?? String(err) };
}

/**
 * A failure Temporal reports, which the run turns into its outcome. Anything else thrown in workflow code
 * (a TypeError, say) is a bug: it is left to Temporal, which fails the workflow task and retries it, so the
 * run shows the bug in the Web UI and continues once a fixed worker runs it.
 */
export function isRunFailure(err: unknown): boolean {
  return err instanceof TemporalFailure;
}

/** What a step's failure says: for a step its worker never came back to, which worker and how long. */
export function describeFailure(err: unknown, host?: { taskQueue: string; deadlineHours: number }): { message: string; type?: string } {
  if (isCancellation(err)) return { message: 'the run was cancelled', type: ErrorTypes.Cancelled };
  // Never picked up (schedule-to-start, which the server derives from schedule-to-close), or not finished in all.
  const waitedOut =
    err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && ['SCHEDULE_TO_CLOSE', 'SCHEDULE_TO_START'].includes(err.cause.timeoutType ?? '');
  if (waitedOut && host) {
    const worker = host.taskQueue.includes('@') ? host.taskQueue.slice(host.taskQueue.indexOf('@') + 1) : host.taskQueue;
    return {
      message: `worker ${worker} did not come back within ${formatHours(host.deadlineHours)} to finish ${err.activityType} (a build's files are on that worker; REFIT_HOST_STEP_DEADLINE_HOURS sets how long a run waits)`,
      type: ErrorTypes.WorkerLost,
    };
  }
  return rootCause(err);
}

function formatHours(hours: number): string {
  if (hours >= 1) return `${Math.round(hours * 10) / 10} h`;
  if (hours * 60 >= 1) return `${Math.round(hours * 60)} min`;
  return `${Math.round(hours * 3600)} s`;
}

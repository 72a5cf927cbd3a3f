// The activity proxies of Refit's workflows, with their options taken from the one table of limits
// (shared/stepLimits.ts). Steps on a worker's own queue heartbeat, and have a schedule-to-close after
// which the run fails saying the worker did not come back.
import { proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors.js';
import { HEARTBEAT_TIMEOUT_SECONDS, hostStepSeconds, type HostStep, type StepLimits } from '../shared/stepLimits.js';

export const retry: ActivityOptions['retry'] = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 8,
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

/** Steps any worker may take, on the shared task queue. */
export const sharedSteps = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });

/**
 * Instant steps any worker may take, run by the worker that runs the workflow task, in that task: no
 * dispatch through a queue and no extra workflow task (the workflow worker also polls the shared queue,
 * so it is one of the workers the shared step would have gone to).
 */
export const localSteps = proxyLocalActivities<Activities>({ startToCloseTimeout: '1 minute', retry });

/** A webhook that stays down must not hold a finished run for long: four tries within about 7 s. */
export const notificationSteps = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { ...retry, initialInterval: '1 second', maximumInterval: '5 seconds', maximumAttempts: 4 },
});

/** Steps that use a build's files (or a machine's serving state) run on the worker that has them. */
export function hostSteps(taskQueue: string, limits: StepLimits, deployTimeoutSeconds: number) {
  const on = (step: HostStep, extra: Partial<ActivityOptions> = {}) =>
    proxyActivities<Activities>({
      taskQueue,
      startToCloseTimeout: `${hostStepSeconds(step, limits, deployTimeoutSeconds)} seconds`,
      heartbeatTimeout: `${HEARTBEAT_TIMEOUT_SECONDS} seconds`,
      scheduleToCloseTimeout: `${limits.hostDeadlineHours} hours`,
      retry,
      ...extra,
    });
  return {
    cloneModelRepository: on('clone').cloneModelRepository,
    buildModel: on('build', { retry: { ...retry, maximumAttempts: 3 } }).buildModel,
    collectMetrics: on('metrics').collectMetrics,
    checkDeploymentCondition: on('condition').checkDeploymentCondition,
    evaluateRolloutGuard: on('guard').evaluateRolloutGuard,
    deployBuild: on('deploy').deployBuild,
    startCanary: on('deploy').startCanary,
    promoteCanary: on('deploy').promoteCanary,
    setCanaryWeight: on('canaryWeight').setCanaryWeight,
    abortCanary: on('canaryWeight').abortCanary,
    rollbackDeployment: on('rollback').rollbackDeployment,
    servingBuilds: on('status').servingBuilds,
    planCondition: on('condition').planCondition,
    planDeployment: on('status').planDeployment,
  };
}

export type HostSteps = ReturnType<typeof hostSteps>;

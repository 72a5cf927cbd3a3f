// One promotion at a time per model: the deploy phase of a BuildDeploy run is a child workflow whose id
// names the model, so while one runs, no other run of the model can start its own (Temporal refuses a
// second running workflow with the same id) and waits its turn. Inside, a champion/challenger decision is
// checked again against the build serving now, and every change registers its undo: any failure or a
// cancellation puts back what the promotion changed, before it ends. A run that waits says so to the
// promotion, which returns its line of waiting runs to the run that started it: that run tells the first of
// them once the promotion has closed, so the next one starts at once rather than after a back-off (and never
// finds the promotion still closing). Promotions of earlier runs, and cancelled ones, tell the line themselves.
import {
  CancellationScope,
  defineSignal,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import { SignalNames } from '../shared/names.js';
import type { DeploymentRequest, PromotionHandOn, PromotionInput, PromotionResult, PromotionWaiter } from '../shared/deployment.js';
import { ErrorTypes } from '../shared/errors.js';
import type { CanaryRecord } from '../shared/runTypes.js';
import { hostSteps } from './activityOptions.js';
import { runCanary } from './canaryRollout.js';
import { describeFailure, isRunFailure } from './failures.js';
import { Compensations } from './saga.js';

/** Sent to the run that started the promotion, whose status shows its canaries as they go. */
export const canaryProgressSignal = defineSignal<[CanaryRecord[]]>(SignalNames.canaryProgress);

export const promotionWaitingSignal = defineSignal<[PromotionWaiter]>(SignalNames.promotionWaiting);
/** To the next waiting run, with those waiting after it, whom its own promotion then tells in turn. */
export const promotionDoneSignal = defineSignal<[PromotionWaiter[], PromotionHandOn?]>(SignalNames.promotionDone);

/** Promotions that tell the runs waiting for them when they end (recorded ones did not). */
export const PROMOTION_HANDOFF_PATCH = 'refit-promotion-handoff';
/** Promotions that also tell the runs that joined their line while it was being handed on. */
export const PROMOTION_LATE_WAITERS_PATCH = 'refit-promotion-late-waiters';

/** The workflow id that makes a model's promotions one at a time. */
export function promotionWorkflowId(modelId: string): string {
  return `refit-promotion-${modelId}`;
}

export async function promoteBuild(input: PromotionInput): Promise<PromotionResult> {
  const host = hostSteps(input.hostTaskQueue, input.limits, input.request.spec.deployment_process_timeout_limit);
  const result: PromotionResult = { deployments: [], rolled_back: [], condition: input.decided };
  const compensations = new Compensations();
  const parent = workflowInfo().parent;
  const handoff = patched(PROMOTION_HANDOFF_PATCH);
  const waiters: PromotionWaiter[] = [...(input.waiters ?? [])];
  if (handoff)
    setHandler(promotionWaitingSignal, (waiter) => {
      if (!waiters.some((each) => each.workflowId === waiter.workflowId)) waiters.push(waiter);
    });
  /**
   * The first waiting run hears it may go, with the rest of the line, which its promotion takes over: one
   * run starts per promotion, not all of them at once. A run that has gone meanwhile is skipped. Runs that
   * join while the line is handed on are not in it: they hear to try again, and find the next promotion.
   */
  const tellNextWaiter = async () => {
    const lateWaiters = patched(PROMOTION_LATE_WAITERS_PATCH);
    while (waiters.length) {
      const next = waiters.shift()!;
      const line = lateWaiters ? waiters.splice(0) : [...waiters];
      if (!(await tell(next, line))) {
        if (lateWaiters) waiters.unshift(...line);
        continue;
      }
      while (lateWaiters && waiters.length) await Promise.all(waiters.splice(0).map((late) => tell(late, [])));
      return;
    }
  };
  const reported = async () => {
    if (parent && result.canaries) await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(canaryProgressSignal, result.canaries);
  };
  const remember = () =>
    upsertMemo({
      promotion: {
        build_id: input.request.buildId,
        deployments: result.deployments.map((each) => each.environment || 'default'),
        rolled_back: result.rolled_back,
      },
    });
  try {
    // The champion may have changed while the run evaluated or waited: decide again against the one serving now.
    if (input.condition?.type === 'DeployedBuildMetric') {
      const now = await host.checkDeploymentCondition({
        condition: input.condition,
        metrics: input.request.metrics,
        modelId: input.request.modelId,
        variation: input.request.spec.variation_name,
        environment: input.environments[0]!,
      });
      if (now.serving_build_id !== input.decided.serving_build_id) {
        const before = input.decided.serving_build_id ?? 'none';
        result.reevaluated = `the serving build changed from ${before} to ${now.serving_build_id ?? 'none'} while this run was evaluating, so it decided again: ${now.reason}`;
        result.condition = now;
        if (!now.passed) {
          result.notDeployed = result.reevaluated;
          return result;
        }
      }
    }
    for (const environment of input.environments) {
      const request: DeploymentRequest = { ...input.request, environment };
      if (input.rollout) {
        const record: CanaryRecord = { environment, percent: input.rollout.steps[0]!, steps: [], outcome: 'in_progress' };
        (result.canaries ??= []).push(record);
        const outcome = await runCanary(host, request, input.rollout, record, compensations, reported);
        if ('notPromoted' in outcome) {
          result.notDeployed = outcome.notPromoted;
          result.rolled_back = await compensations.runAll();
          result.deployments = [];
          await reported();
          return result;
        }
        result.deployments.push(outcome);
      } else {
        const deployed = await host.deployBuild(request);
        if (deployed.changed) {
          const previous = deployed.previous_build_id;
          compensations.add({ ...deployed, build_id: previous ?? '', undo: previous ? 'rolled_back' : 'removed', notes: [] }, async () => {
            const restored = await host.rollbackDeployment({ modelId: request.modelId, environment, variation: deployed.variation, previousBuildId: previous });
            return restored
              ? { ...restored, undo: 'rolled_back' }
              : { ...deployed, build_id: '', changed: true, undo: 'removed', notes: ['removed: nothing served it before'] };
          });
        }
        result.deployments.push(deployed);
      }
    }
    return result;
  } catch (err) {
    // A bug in this code is left to Temporal, which retries the workflow task: nothing of it is final yet.
    if (!isCancellation(err) && !isRunFailure(err)) throw err;
    // Whatever went wrong, what this promotion changed goes back first; the original error is what is reported.
    result.rolled_back = await compensations.runAll();
    result.deployments = [];
    result.cancelled = isCancellation(err);
    result.failure = result.cancelled
      ? { message: 'the run was cancelled while deploying', type: ErrorTypes.Cancelled }
      : describeFailure(err, { taskQueue: input.hostTaskQueue, deadlineHours: input.limits.hostDeadlineHours });
    return result;
  } finally {
    remember();
    // A cancelled promotion tells the line itself: the run that started it may have been terminated. Otherwise the
    // result returned carries the line to that run, complete: a run's signal that arrives during this last workflow
    // task fails its completion, and on the next task signals are handled before the code goes on.
    if (input.lineToParent && !result.cancelled) result.line = [...waiters];
    // Also when this promotion was cancelled: the next run must still hear it may go.
    else if (handoff) await CancellationScope.nonCancellable(tellNextWaiter);
  }
}

/** Tells a waiting run it may go, with the runs waiting after it; false when it has gone meanwhile. */
function tell(waiter: PromotionWaiter, line: PromotionWaiter[], how?: PromotionHandOn): Promise<boolean> {
  const told = getExternalWorkflowHandle(waiter.workflowId, waiter.runId);
  return (how ? told.signal(promotionDoneSignal, line, how) : told.signal(promotionDoneSignal, line)).then(
    () => true,
    () => false,
  );
}

/**
 * From the run whose promotion has closed: the first waiting run that is still there hears it may go, with the
 * rest of the line. Runs that try to join after the close find no promotion and try to start their own at once.
 */
export async function handOnLine(line: PromotionWaiter[]): Promise<void> {
  for (let next = 0; next < line.length; next++) {
    if (await tell(line[next]!, line.slice(next + 1), { promotionClosed: true })) return;
  }
}

// A canary rollout in one environment: traffic shifts to the new build step by step on durable timers (a
// canary that lasts a day survives restarts), the guard checked after each step. The canary's undo is
// registered the moment it takes traffic; a guard that fails, or fails to answer, takes it out at once.
import { sleep } from '@temporalio/workflow';
import type { DeploymentRequest } from '../shared/deployment.js';
import type { CanaryRecord, DeploymentSummary } from '../shared/runTypes.js';
import type { AutomationModel } from '../spec/schema/automation.js';
import type { HostSteps } from './activityOptions.js';
import { intervalMs } from './durations.js';
import type { Compensations } from './saga.js';

type Rollout = NonNullable<AutomationModel['action']['rollout']>;

/** The deployment once promoted, or why the canary was taken out (its undo then runs with the others). */
export async function runCanary(
  host: HostSteps,
  request: DeploymentRequest,
  rollout: Rollout,
  record: CanaryRecord,
  compensations: Compensations,
  reported: () => Promise<void>,
): Promise<DeploymentSummary | { notPromoted: string }> {
  const target = { modelId: request.modelId, environment: request.environment, variation: request.spec.variation_name, buildId: request.buildId };
  const started = await host.startCanary({ request, percent: rollout.steps[0]! });
  if (!started.previous_build_id) {
    // Nothing served this variation before: nothing to compare with; its undo removes it again.
    record.percent = 100;
    record.outcome = 'promoted';
    await reported();
    compensations.add({ ...started, build_id: '', undo: 'removed', notes: ['removed: nothing served it before'] }, async () => {
      await host.rollbackDeployment({ modelId: target.modelId, environment: target.environment, variation: target.variation, previousBuildId: undefined });
      return undefined;
    });
    return started;
  }
  const abort = async () => {
    await host.abortCanary({ target });
    record.outcome = 'rolled_back';
    return {
      ...started,
      build_id: started.previous_build_id!,
      undo: 'canary_aborted' as const,
      notes: [`the canary of build ${request.buildId} was taken out; build ${started.previous_build_id} serves all traffic`],
    };
  };
  const undo = compensations.add({ ...started, build_id: started.previous_build_id, undo: 'canary_aborted', notes: [] }, abort);
  for (const [index, percent] of rollout.steps.entries()) {
    if (index > 0) await host.setCanaryWeight({ target, percent });
    record.percent = percent;
    await reported();
    await sleep(intervalMs(rollout.interval));
    const guard = await host.evaluateRolloutGuard({ guard: rollout.guard, buildId: request.buildId, metrics: request.metrics });
    record.steps.push({ percent, guard });
    await reported();
    if (!guard.passed) return { notPromoted: `the canary guard failed at ${percent}%: ${guard.reason}; rolled back to build ${started.previous_build_id}` };
  }
  const promoted = await host.promoteCanary({ target });
  record.outcome = 'promoted';
  await reported();
  // Promoted, the build is the variation's like any deploy: its undo puts the previous build back.
  compensations.replace(undo, { ...promoted, build_id: started.previous_build_id, undo: 'rolled_back' }, () =>
    host
      .rollbackDeployment({ modelId: target.modelId, environment: target.environment, variation: target.variation, previousBuildId: started.previous_build_id })
      .then((restored) => restored && { ...restored, undo: 'rolled_back' as const }),
  );
  return promoted;
}

// The deploy phase as runs started before the promotion workflow (patch "refit-promotion") did it: inline,
// with their compensation. Kept unchanged so that such runs, replayed by today's workers, make the same
// decisions they made then. New runs never come here. Remove with deprecatePatch once no such run is open.
import { sleep } from '@temporalio/workflow';
import type { DeploymentRequest } from '../shared/deployment.js';
import type { CanaryRecord, DeploymentSummary, RunStatus } from '../shared/runTypes.js';
import type { AutomationModel } from '../spec/schema/automation.js';
import type { HostSteps } from './activityOptions.js';
import { intervalMs } from './durations.js';

type Rollout = NonNullable<AutomationModel['action']['rollout']>;

/** Deploys to each environment in order; returns why a canary was rolled back, if one was. */
export async function legacyDeploy(
  host: HostSteps,
  status: RunStatus,
  requests: DeploymentRequest[],
  rollout: Rollout | undefined,
): Promise<string | undefined> {
  for (const request of requests) {
    try {
      const outcome = rollout ? await runCanary(host, status, request, rollout) : await host.deployBuild(request);
      if (typeof outcome === 'string') {
        await compensate(host, status);
        return outcome;
      }
      status.deployments.push(outcome);
    } catch (err) {
      await compensate(host, status);
      throw err;
    }
  }
  return undefined;
}

/** Environments deployed before a failure go back to what they served, so none is left half-way. */
async function compensate(host: HostSteps, status: RunStatus): Promise<void> {
  status.step = 'rolling_back';
  for (const done of [...status.deployments].reverse().filter((deployment) => deployment.changed)) {
    const restored = await host.rollbackDeployment({
      modelId: status.model_id,
      environment: done.environment,
      variation: done.variation,
      previousBuildId: done.previous_build_id,
    });
    status.rolled_back.push(restored ?? { ...done, build_id: '', changed: true, notes: ['removed: nothing served it before'] });
  }
  status.deployments = [];
}

async function runCanary(host: HostSteps, status: RunStatus, request: DeploymentRequest, rollout: Rollout): Promise<DeploymentSummary | string> {
  const record: CanaryRecord = { environment: request.environment, percent: rollout.steps[0]!, steps: [], outcome: 'in_progress' };
  (status.canaries ??= []).push(record);
  const target = { modelId: request.modelId, environment: request.environment, variation: request.spec.variation_name, buildId: request.buildId };
  const started = await host.startCanary({ request, percent: rollout.steps[0]! });
  if (!started.previous_build_id) {
    record.percent = 100;
    record.outcome = 'promoted';
    return started;
  }
  for (const [index, percent] of rollout.steps.entries()) {
    if (index > 0) await host.setCanaryWeight({ target, percent });
    record.percent = percent;
    await sleep(intervalMs(rollout.interval));
    const guard = await host.evaluateRolloutGuard({ guard: rollout.guard, buildId: request.buildId, metrics: request.metrics });
    record.steps.push({ percent, guard });
    if (!guard.passed) {
      await host.abortCanary({ target });
      record.outcome = 'rolled_back';
      return `the canary guard failed at ${percent}%: ${guard.reason}; rolled back to build ${started.previous_build_id}`;
    }
  }
  const promoted = await host.promoteCanary({ target });
  record.outcome = 'promoted';
  return promoted;
}

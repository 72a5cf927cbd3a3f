// `refit rollback`: puts a build a model served before back in place, as a run of its own, so the
// rollback is recorded (who, why, from which build to which) like every deploy.
import { environmentsOf } from '../shared/deployment.js';
import { ApplicationFailure, proxyActivities, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors.js';
import { SearchAttributeKeys } from '../shared/names.js';
import type { RollbackInput, RollbackResult } from '../shared/operations.js';

const retry = { initialInterval: '2 seconds', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES };
const { hostTaskQueue: findHostQueue } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });

export async function rollbackDeploy(input: RollbackInput): Promise<RollbackResult> {
  const { automation } = input;
  upsertSearchAttributes([
    { key: SearchAttributeKeys.automation, value: automation.name },
    { key: SearchAttributeKeys.modelId, value: automation.model_id },
  ]);
  // Deployments live with the worker that made them: its own queue runs the rollback.
  const hostTaskQueue = input.hostTaskQueue ?? (await findHostQueue());
  const host = proxyActivities<Activities>({
    taskQueue: hostTaskQueue,
    startToCloseTimeout: `${automation.action.deployment_spec.deployment_process_timeout_limit + 300} seconds`,
    heartbeatTimeout: '30 seconds',
    retry,
  });
  const variation = automation.action.deployment_spec.variation_name;
  const environments = environmentsOf(automation.action.deployment_spec);
  const result: RollbackResult = { automation: automation.name, model_id: automation.model_id, by: input.by, reason: input.reason, rolled_back: [] };
  for (const environment of environments) {
    const serving = await host.servingBuilds({ modelId: automation.model_id, environment, variation });
    const where = `variation "${variation}" of ${automation.model_id}${environment ? ` in ${environment}` : ''}`;
    if (!serving) throw ApplicationFailure.nonRetryable(`nothing serves ${where}, so there is nothing to roll back`, 'RefitDeploymentFailed');
    const to = input.toBuildId ?? serving.previousBuildIds[0];
    if (!to)
      throw ApplicationFailure.nonRetryable(
        `${where} has served only build ${serving.buildId}: there is no earlier build to put back`,
        'RefitDeploymentFailed',
      );
    if (to !== serving.buildId && !serving.previousBuildIds.includes(to)) {
      throw ApplicationFailure.nonRetryable(
        `build ${to} never served ${where}; it served: ${[serving.buildId, ...serving.previousBuildIds].join(', ')}`,
        'RefitDeploymentFailed',
      );
    }
    await host.rollbackDeployment({ modelId: automation.model_id, environment, variation, previousBuildId: to });
    result.rolled_back.push({ environment, variation, from: serving.buildId, to });
    upsertSearchAttributes([
      { key: SearchAttributeKeys.buildId, value: to },
      { key: SearchAttributeKeys.deployed, value: true },
    ]);
  }
  const moves = result.rolled_back.map((entry) => `${entry.from} → ${entry.to}${entry.environment ? ` in ${entry.environment}` : ''}`).join(', ');
  upsertMemo({ result: { deployed: true, reason: `rolled back ${moves} by ${input.by}${input.reason ? ` (${input.reason})` : ''}` } });
  return result;
}

// `refit scale-status`: how each environment's variations autoscale now. It runs on a worker because the
// cluster credentials are there; one read-only activity per environment, on the queue of the worker that serves
// the model.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { environmentsOf } from '../shared/deployment.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors.js';
import type { ScaleStatusInput, ScaleStatusResult } from '../shared/operations.js';

const retry = { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES };
const { hostTaskQueue } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });

export async function scaleStatus(input: ScaleStatusInput): Promise<ScaleStatusResult> {
  const { automation } = input;
  const host = proxyActivities<Activities>({ taskQueue: input.hostTaskQueue ?? (await hostTaskQueue()), startToCloseTimeout: '1 minute', retry });
  const environments = [];
  for (const environment of environmentsOf(automation.action.deployment_spec)) {
    environments.push(await host.scaleStatus({ modelId: automation.model_id, environment }));
  }
  return { automation: automation.name, model_id: automation.model_id, environments };
}

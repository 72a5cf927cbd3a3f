// `refit undeploy`: stops what a deploy serves, as a run of its own (who, what, which builds), on the queue of the
// worker that serves the model. Its schedule, its history and its builds stay; a later run deploys again.
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors.js';
import { SearchAttributeKeys } from '../shared/names.js';
import type { UndeployInput, UndeployResult } from '../shared/operations.js';

const retry = { initialInterval: '2 seconds', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES };
const { hostTaskQueue: findHostQueue } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });

export async function undeploy(input: UndeployInput): Promise<UndeployResult> {
  upsertSearchAttributes([
    { key: SearchAttributeKeys.modelId, value: input.modelId },
    ...(input.automation ? [{ key: SearchAttributeKeys.automation, value: input.automation }] : []),
  ]);
  const host = proxyActivities<Activities>({
    taskQueue: input.hostTaskQueue ?? (await findHostQueue()),
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    retry,
  });
  const result: UndeployResult = { model_id: input.modelId, by: input.by, stopped: [], nothing_in: [] };
  for (const environment of input.environments) {
    const stopped = await host.stopServing({ modelId: input.modelId, environment, variation: input.variation });
    if (!stopped.length) result.nothing_in.push(environment);
    result.stopped.push(...stopped.map((entry) => ({ environment, variation: entry.variation, build_id: entry.buildId })));
  }
  return result;
}

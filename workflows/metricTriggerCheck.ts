// One check of a MetricBasedTrigger, started by its schedule: reads the metric from model analytics and
// starts a BuildDeploy run only when the metric has crossed its threshold in the given direction and no
// build of the automation is running. Every check is a run of its own, so its outcome is in the Web UI.
import {
  ApplicationFailure,
  ParentClosePolicy,
  patched,
  proxyActivities,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities/index.js';
import { ErrorTypes, NON_RETRYABLE_ERROR_TYPES } from '../shared/errors.js';
import { SearchAttributeKeys, WorkflowTypes } from '../shared/names.js';
import { RUN_INPUT_VERSION, type BuildDeployInput } from '../shared/runTypes.js';
import type { MetricTriggerCheckInput, MetricTriggerCheckResult } from '../shared/operations.js';

const { evaluateMetricTrigger, findRunningBuilds } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function metricTriggerCheck(input: MetricTriggerCheckInput): Promise<MetricTriggerCheckResult> {
  const { automation } = input;
  // One id for the builds this automation's checks start: a second cannot start while one runs (Temporal
  // refuses a running id), however late the visibility list below learns of the first.
  const oneBuildAtATime = patched('refit-metric-build-id');
  const trigger = automation.trigger;
  if (trigger.type !== 'MetricBasedTrigger')
    throw ApplicationFailure.nonRetryable(`automation ${automation.name} has no metric trigger`, ErrorTypes.InvalidDefinition);
  upsertSearchAttributes([
    { key: SearchAttributeKeys.automation, value: automation.name },
    { key: SearchAttributeKeys.modelId, value: automation.model_id },
  ]);
  const value = await evaluateMetricTrigger({ sqlQuery: trigger.metric.sql_query });
  const crossed = trigger.direction === 'ABOVE' ? value > trigger.threshold : value < trigger.threshold;
  const outcome = { value, threshold: trigger.threshold, direction: trigger.direction };
  const word = trigger.direction === 'ABOVE' ? 'above' : 'below';
  if (!crossed) return { ...outcome, fired: false, reason: `${trigger.name} is ${value}, not ${word} ${trigger.threshold}: no build` };
  const running = await findRunningBuilds({ automation: automation.name });
  if (running.length)
    return { ...outcome, fired: false, reason: `${trigger.name} is ${value}, ${word} ${trigger.threshold}, but build ${running[0]} is still running` };
  const buildWorkflowId = oneBuildAtATime ? `refit-${automation.name}-metric-build` : `${workflowInfo().workflowId}-build`;
  try {
    await startChild<(input: BuildDeployInput) => Promise<unknown>>(WorkflowTypes.buildDeploy, {
      workflowId: buildWorkflowId,
      taskQueue: input.taskQueue,
      args: [{ version: RUN_INPUT_VERSION, automation, trigger: { kind: 'metric', detail: `${trigger.name} = ${value}` } }],
      // The build outlives this short check.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      typedSearchAttributes: [
        { key: SearchAttributeKeys.automation, value: automation.name },
        { key: SearchAttributeKeys.modelId, value: automation.model_id },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return {
      ...outcome,
      fired: false,
      reason: `${trigger.name} is ${value}, ${word} ${trigger.threshold}, but the build ${buildWorkflowId} it started earlier is still running`,
    };
  }
  return {
    ...outcome,
    fired: true,
    reason: `${trigger.name} is ${value}, ${word} ${trigger.threshold}: started build ${buildWorkflowId}`,
    build_workflow_id: buildWorkflowId,
  };
}

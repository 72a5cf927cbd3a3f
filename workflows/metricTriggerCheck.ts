// One check of a MetricBasedTrigger, started by its schedule: reads the metric from model analytics and
// starts a BuildDeploy run only when the metric has crossed its threshold in the given direction and no
// build of the automation is running. Every check is a run of its own, so its outcome is in the Web UI.
import { ParentClosePolicy, proxyActivities, startChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors.js';
import { SearchAttributeKeys, WorkflowTypes } from '../shared/names.js';
import type { BuildDeployInput } from '../shared/runTypes.js';
import type { AutomationModel } from '../spec/schema/automation.js';

const { evaluateMetricTrigger, findRunningBuilds } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export interface MetricTriggerCheckInput {
  automation: AutomationModel;
  taskQueue: string;
}

export interface MetricTriggerCheckResult {
  fired: boolean;
  value: number;
  threshold: number;
  direction: 'ABOVE' | 'BELOW';
  reason: string;
  /** The BuildDeploy run this check started. */
  build_workflow_id?: string;
}

export async function metricTriggerCheck(input: MetricTriggerCheckInput): Promise<MetricTriggerCheckResult> {
  const { automation } = input;
  const trigger = automation.trigger;
  if (trigger.type !== 'MetricBasedTrigger') throw new Error(`automation ${automation.name} has no metric trigger`);
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
  if (running.length) return { ...outcome, fired: false, reason: `${trigger.name} is ${value}, ${word} ${trigger.threshold}, but build ${running[0]} is still running` };
  const buildWorkflowId = `${workflowInfo().workflowId}-build`;
  await startChild<(input: BuildDeployInput) => Promise<unknown>>(WorkflowTypes.buildDeploy, {
    workflowId: buildWorkflowId,
    taskQueue: input.taskQueue,
    args: [{ automation, trigger: { kind: 'metric', detail: `${trigger.name} = ${value}` } }],
    // The build outlives this short check.
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: [
      { key: SearchAttributeKeys.automation, value: automation.name },
      { key: SearchAttributeKeys.modelId, value: automation.model_id },
    ],
  });
  return { ...outcome, fired: true, reason: `${trigger.name} is ${value}, ${word} ${trigger.threshold}: started build ${buildWorkflowId}`, build_workflow_id: buildWorkflowId };
}

// One run of an automation's action: clone, build, metrics, condition, deploy, notify. Deterministic:
// every side effect is an activity; the workflow only decides and records. Secrets are names here.
import {
  ApplicationFailure,
  condition as waitUntil,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors.js';
import { QueryNames, SearchAttributeKeys, SignalNames, UpdateNames } from '../shared/names.js';
import type { ApprovalDecision, ApprovalRecord, BuildDeployInput, BuildDeployResult, BuildSummary, CanaryRecord, DeploymentSummary, NotificationRecord, RunStatus } from '../shared/runTypes.js';
import type { DeploymentRequest } from '../activities/deploy/deploymentTarget.js';
import type { AutomationModel } from '../spec/schema/automation.js';
import { parseInterval } from '../spec/interval.js';

export const statusQuery = defineQuery<RunStatus>(QueryNames.status);
export const decideApprovalUpdate = defineUpdate<ApprovalRecord, [ApprovalDecision]>(UpdateNames.decideApproval);
export const decideApprovalSignal = defineSignal<[ApprovalDecision]>(SignalNames.decideApproval);

const retry: ActivityOptions['retry'] = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 8,
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

// Steps any worker may take, on the shared task queue.
const { claimWorkspace } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });
// A webhook that stays down must not hold a finished run for long: four tries within about 7 s.
const { sendRunNotification } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { ...retry, initialInterval: '1 second', maximumInterval: '5 seconds', maximumAttempts: 4 },
});

/** Steps that use a build's files run on the worker that claimed its workspace. */
function onHost(taskQueue: string, deployTimeoutSeconds: number) {
  const longStep = { taskQueue, heartbeatTimeout: '30 seconds', retry };
  const steps = proxyActivities<Activities>({ ...longStep, startToCloseTimeout: '30 minutes' });
  return {
    cloneModelRepository: steps.cloneModelRepository,
    collectMetrics: steps.collectMetrics,
    checkDeploymentCondition: steps.checkDeploymentCondition,
    rollbackDeployment: steps.rollbackDeployment,
    setCanaryWeight: steps.setCanaryWeight,
    abortCanary: steps.abortCanary,
    evaluateRolloutGuard: steps.evaluateRolloutGuard,
    startCanary: proxyActivities<Activities>({ ...longStep, startToCloseTimeout: `${deployTimeoutSeconds + 300} seconds` }).startCanary,
    promoteCanary: proxyActivities<Activities>({ ...longStep, startToCloseTimeout: `${deployTimeoutSeconds + 300} seconds` }).promoteCanary,
    buildModel: proxyActivities<Activities>({ ...longStep, startToCloseTimeout: '4 hours', retry: { ...retry, maximumAttempts: 3 } }).buildModel,
    deployBuild: proxyActivities<Activities>({ ...longStep, startToCloseTimeout: `${deployTimeoutSeconds + 300} seconds` }).deployBuild,
  };
}

export async function buildDeploy(input: BuildDeployInput): Promise<BuildDeployResult> {
  const { automation } = input;
  const { build_spec: buildSpec, deployment_condition: condition, deployment_spec: deploymentSpec } = automation.action;
  // Run ids are time-ordered (UUIDv7): their random part is at the end, their start is shared by close runs.
  const buildId = `${automation.model_id}-${workflowInfo().runId.replace(/-/g, '').slice(-12)}`;
  const environments = deploymentSpec.environments.length ? deploymentSpec.environments : [''];
  const status: RunStatus = { step: 'starting', automation: automation.name, model_id: automation.model_id, build_id: buildId, deployments: [], rolled_back: [] };
  const notifications: NotificationRecord[] = [];
  let build: BuildSummary | undefined;
  setHandler(statusQuery, () => status);
  // A decision is taken once, and only while the run waits for it; the update says why otherwise.
  let decision: ApprovalRecord | undefined;
  const decide = (request: ApprovalDecision): ApprovalRecord => {
    decision = { decision: request.approve ? 'approved' : 'rejected', by: request.by, reason: request.reason, at: new Date().toISOString() };
    return decision;
  };
  setHandler(decideApprovalUpdate, decide, {
    validator: (request) => {
      if (status.step !== 'awaiting_approval' || decision) throw new Error(`run ${workflowInfo().workflowId} is not waiting for approval (it is ${status.step.replace('_', ' ')})`);
      if (!request?.by) throw new Error('say who decides: by is required');
    },
  });
  setHandler(decideApprovalSignal, (request) => {
    if (status.step === 'awaiting_approval' && !decision && request?.by) decide(request);
  });
  upsertSearchAttributes([
    { key: SearchAttributeKeys.automation, value: automation.name },
    { key: SearchAttributeKeys.modelId, value: automation.model_id },
    { key: SearchAttributeKeys.buildId, value: buildId },
    { key: SearchAttributeKeys.variation, value: deploymentSpec.variation_name },
  ]);

  try {
    const workspace = await claimWorkspace({ buildId });
    const host = onHost(workspace.hostTaskQueue, deploymentSpec.deployment_process_timeout_limit);

    status.step = 'cloning';
    const clone = await host.cloneModelRepository({ buildId, buildSpec, automation: automation.name, modelId: automation.model_id });
    status.git_commit = clone.commit;
    upsertSearchAttributes([{ key: SearchAttributeKeys.gitCommit, value: clone.commit }]);

    status.step = 'building';
    const built = await host.buildModel({ buildId, automation: automation.name, modelId: automation.model_id, modelDir: clone.modelDir, buildSpec });
    build = { log_file: built.log_file, duration_ms: built.duration_ms, tests: built.tests, environment_reused: built.environment_reused, limits: built.limits, tags: built.tags };

    status.step = 'collecting_metrics';
    status.metrics = await host.collectMetrics({ buildId, metricsFile: built.metrics_file, metricName: condition?.metric_name });

    status.step = 'checking_condition';
    status.condition = await host.checkDeploymentCondition({
      condition,
      metrics: status.metrics,
      modelId: automation.model_id,
      variation: deploymentSpec.variation_name,
      environment: environments[0]!,
    });
    upsertSearchAttributes([{ key: SearchAttributeKeys.conditionOutcome, value: status.condition.passed ? 'passed' : 'failed' }]);

    const approval = automation.action.approval;
    if (status.condition.passed && approval?.required) {
      // Durable: the run holds no compute while it waits, and survives worker and server restarts.
      status.step = 'awaiting_approval';
      upsertSearchAttributes([{ key: SearchAttributeKeys.approval, value: 'pending' }]);
      if (!(await waitUntil(() => decision !== undefined, intervalMs(approval.timeout)))) {
        decision = { decision: approval.on_timeout === 'approve' ? 'timed_out_approved' : 'timed_out_rejected', by: 'timeout', reason: `no decision within ${approval.timeout}`, at: new Date().toISOString() };
      }
      status.approval = decision!;
      const approved = status.approval.decision === 'approved' || status.approval.decision === 'timed_out_approved';
      upsertSearchAttributes([{ key: SearchAttributeKeys.approval, value: approved ? 'approved' : status.approval.decision === 'rejected' ? 'rejected' : 'timed_out' }]);
      if (!approved) status.condition = { ...status.condition, passed: false, reason: `${status.condition.reason}, but ${describeDecision(status.approval)}` };
    }

    const rollout = automation.action.rollout;
    let canaryFailure: string | undefined;
    if (status.condition.passed) {
      status.step = rollout ? 'canary' : 'deploying';
      for (const environment of environments) {
        const request: DeploymentRequest = {
          automation: automation.name,
          modelId: automation.model_id,
          buildId,
          environment,
          spec: deploymentSpec,
          artifactDir: built.artifact_dir,
          python: built.python,
          metrics: status.metrics,
        };
        try {
          const outcome = rollout ? await runCanary(host, request, rollout) : await host.deployBuild(request);
          if (typeof outcome === 'string') {
            canaryFailure = outcome;
            await compensate(host);
            break;
          }
          status.deployments.push(outcome);
        } catch (err) {
          await compensate(host);
          throw err;
        }
      }
    }

    const deployed = status.condition.passed && !canaryFailure && status.deployments.length === environments.length;
    const approvedBy = deployed && status.approval ? `, ${describeDecision(status.approval)}` : '';
    const reason = deployed
      ? `deployed build ${buildId} (${describeTargets(status.deployments)}): ${status.condition.reason}${approvedBy}`
      : `not deployed: ${canaryFailure ?? status.condition.reason}`;
    status.step = 'notifying';
    if (deployed && automation.on_success) notifications.push(await notify('on_success', automation.on_success, { outcome: 'deployed', reason, deployed }));
    status.step = 'finished';
    upsertSearchAttributes([{ key: SearchAttributeKeys.deployed, value: deployed }]);
    const result: BuildDeployResult = { ...status, deployed, reason, build, notifications, trigger: input.trigger };
    upsertMemo({ result: memoOf(result) });
    return result;
  } catch (err) {
    if (isCancellation(err)) throw err;
    const failedStep = status.step;
    const cause = rootCause(err);
    status.step = 'failed';
    status.error = `${failedStep.replace('_', ' ')} failed: ${cause.message}`;
    upsertSearchAttributes([{ key: SearchAttributeKeys.deployed, value: false }]);
    if (automation.on_error) notifications.push(await notify('on_error', automation.on_error, { outcome: 'failed', reason: status.error, deployed: false }));
    upsertMemo({ result: memoOf({ ...status, deployed: false, reason: status.error, build, notifications, trigger: input.trigger }) });
    throw ApplicationFailure.create({ message: status.error, type: cause.type ?? 'RefitRunFailed', nonRetryable: true, details: [{ ...status, notifications }] });
  }

  /** Environments deployed before a failure go back to what they served, so none is left half-way. */
  async function compensate(host: ReturnType<typeof onHost>): Promise<void> {
    status.step = 'rolling_back';
    for (const done of [...status.deployments].reverse().filter((deployment) => deployment.changed)) {
      const restored = await host.rollbackDeployment({
        modelId: automation.model_id,
        environment: done.environment,
        variation: done.variation,
        previousBuildId: done.previous_build_id,
      });
      status.rolled_back.push(restored ?? { ...done, build_id: '', changed: true, notes: ['removed: nothing served it before'] });
    }
    status.deployments = [];
  }

  /**
   * Shifts a variation's traffic to the new build step by step on durable timers (a canary that lasts a
   * day survives restarts), checking the guard after each step. Returns the deployment, or why it was
   * rolled back.
   */
  async function runCanary(host: ReturnType<typeof onHost>, request: DeploymentRequest, rollout: NonNullable<AutomationModel['action']['rollout']>): Promise<DeploymentSummary | string> {
    const record: CanaryRecord = { environment: request.environment, percent: rollout.steps[0]!, steps: [], outcome: 'in_progress' };
    (status.canaries ??= []).push(record);
    const target = { modelId: request.modelId, environment: request.environment, variation: request.spec.variation_name, buildId: request.buildId };
    const started = await host.startCanary({ request, percent: rollout.steps[0]! });
    if (!started.previous_build_id) {
      // Nothing served this variation before: nothing to compare with or roll back to.
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

  /** Sends a notification; a webhook that stays down is recorded, never fails or repeats the run. */
  async function notify(event: NotificationRecord['event'], notification: NonNullable<typeof automation.on_error>, outcome: { outcome: 'deployed' | 'failed'; reason: string; deployed: boolean }): Promise<NotificationRecord> {
    try {
      const delivery = await sendRunNotification({
        notification,
        event: { automation: automation.name, model_id: automation.model_id, build_id: buildId, git_commit: status.git_commit ?? '', ...outcome },
      });
      return { event, delivered: true, detail: `${notification.type} to ${delivery.target}: HTTP ${delivery.status}` };
    } catch (err) {
      return { event, delivered: false, detail: `${notification.type} not delivered: ${rootCause(err).message}` };
    }
  }
}

/** Definitions are validated before a run starts, so the interval parses. */
function intervalMs(interval: string): number {
  const parsed = parseInterval(interval);
  return 'seconds' in parsed ? parsed.seconds * 1000 : 0;
}

function describeDecision(record: ApprovalRecord): string {
  const why = record.reason ? ` (${record.reason})` : '';
  switch (record.decision) {
    case 'approved':
      return `approved by ${record.by}${why}`;
    case 'rejected':
      return `rejected by ${record.by}${why}`;
    default:
      return `nobody decided in time, so it was ${record.decision === 'timed_out_approved' ? 'approved' : 'rejected'}${why}`;
  }
}

function describeTargets(deployments: DeploymentSummary[]): string {
  return deployments.map((deployment) => `variation ${deployment.variation}${deployment.environment ? ` in ${deployment.environment}` : ''}`).join(', ');
}

/** The innermost failure: an activity's ApplicationFailure carries the message and type that matter. */
function rootCause(err: unknown): { message: string; type?: string } {
  let current = err as { message?: string; cause?: unknown; type?: string } | undefined;
  while (current?.cause) current = current.cause as typeof current;
  return { message: current?.message ?? String(err), type: current?.type };
}

/** The part of the result kept in the memo, so the Web UI shows the decision without opening history. */
function memoOf(result: BuildDeployResult) {
  return {
    deployed: result.deployed,
    reason: result.reason,
    build_id: result.build_id,
    git_commit: result.git_commit,
    condition: result.condition,
    deployments: result.deployments.map((deployment) => ({ environment: deployment.environment, variation: deployment.variation, url: deployment.url })),
    approval: result.approval,
    canaries: result.canaries?.map((canary) => ({ environment: canary.environment, outcome: canary.outcome, steps: canary.steps.map((step) => `${step.percent}%: ${step.guard.reason}`) })),
  };
}

// One run of an automation's action: clone, build, metrics, condition, approval, promote, notify.
// Deterministic: every side effect is an activity; the workflow only decides and records. Secrets are names here.
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition as waitUntil,
  defineQuery,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { environmentsOf, type DeploymentRequest } from '../shared/deployment.js';
import { QueryNames, SearchAttributeKeys } from '../shared/names.js';
import { ErrorTypes } from '../shared/errors.js';
import {
  buildModelInput,
  buildOutputOf,
  RUN_INPUT_VERSION,
  type BuildDeployInput,
  type BuildDeployResult,
  type BuildSummary,
  type DeploymentSummary,
  type NotificationRecord,
  type RunStatus,
} from '../shared/runTypes.js';
import { DEFAULT_STEP_LIMITS } from '../shared/stepLimits.js';
import { hostSteps, localSteps, notificationSteps, sharedSteps } from './activityOptions.js';
import { ApprovalGate, describeDecision } from './approvalGate.js';
import { buildIdOf } from './buildId.js';
import { describeFailure, isRunFailure, rootCause } from './failures.js';
import { legacyDeploy } from './legacyDeploy.js';
import { canaryProgressSignal, handOnLine, promoteBuild, promotionDoneSignal, promotionWaitingSignal, promotionWorkflowId } from './promoteBuild.js';
import type { PromotionInput, PromotionResult, PromotionWaiter } from '../shared/deployment.js';
import { activitySummaries, runDetails } from './runSummaries.js';

export { decideApprovalSignal, decideApprovalUpdate } from './approvalGate.js';
export const statusQuery = defineQuery<RunStatus>(QueryNames.status);

/** Changes to this workflow since runs of it were first recorded; each is guarded for runs started before it. */
export const Patches = {
  /** The deploy phase runs as the model's promotion workflow (one at a time), its changes undone as a saga. */
  promotion: 'refit-promotion',
  /** Build ids come from the workflow id and first run id, not the run id (which a reset changes). */
  stableBuildId: 'refit-build-id-from-workflow-id',
  /** The workspace is claimed by a local activity of the worker that runs the workflow (no queue round trip). */
  localWorkspaceClaim: 'refit-local-workspace-claim',
  /** A run waiting for its model's promotion asks to be told when it ends, and goes then (the back-off stays as a bound). */
  promotionHandoff: 'refit-promotion-handoff-wait',
  /** A run told to go that still finds the promotion closing tries again shortly, rather than joining its line. */
  promotionClosingRetry: 'refit-promotion-closing-retry',
  /** A run that joins a promotion's line brings the runs it was handed, which joined no line of their own. */
  promotionCarriedLine: 'refit-promotion-carried-line',
  /** The run hands its promotion's line on once the promotion has closed (the promotion returns it). */
  promotionLineToParent: 'refit-promotion-line-to-parent',
} as const;

/** How a run told to go waits for the promotion that told it to close: its last workflow task is tens of ms. */
const CLOSING_RETRY_MS = 100;
const CLOSING_RETRIES = 10;

export async function buildDeploy(input: BuildDeployInput): Promise<BuildDeployResult> {
  const promotion = patched(Patches.promotion);
  const info = workflowInfo();
  if ((input.version ?? 1) !== RUN_INPUT_VERSION) {
    throw ApplicationFailure.nonRetryable(
      `this run's input has format version ${input.version}, and this worker reads version ${RUN_INPUT_VERSION}: run it on a worker of the Refit that started it`,
      ErrorTypes.InvalidDefinition,
    );
  }
  const { automation } = input;
  const { build_spec: buildSpec, deployment_condition: condition, deployment_spec: deploymentSpec } = automation.action;
  const buildId = patched(Patches.stableBuildId)
    ? buildIdOf(automation.model_id, info.workflowId, info.firstExecutionRunId)
    : // Run ids are time-ordered (UUIDv7): their random part is at the end, their start is shared by close runs.
      `${automation.model_id}-${info.runId.replace(/-/g, '').slice(-12)}`;
  const environments = environmentsOf(deploymentSpec);
  const status: RunStatus = {
    step: 'starting',
    automation: automation.name,
    model_id: automation.model_id,
    build_id: buildId,
    deployments: [],
    rolled_back: [],
  };
  const notifications: NotificationRecord[] = [];
  let build: BuildSummary | undefined;
  let hostQueue: { taskQueue: string; deadlineHours: number } | undefined;
  setHandler(statusQuery, () => status);
  setHandler(canaryProgressSignal, (canaries) => {
    status.canaries = canaries;
  });
  let promotionFree = false;
  /** Runs waiting after this one, handed over with the word that this run may go. */
  let waitingAfter: PromotionWaiter[] = [];
  /** Told by a run whose promotion had closed, so a refused start is not that promotion closing. */
  let toldAfterClose = false;
  setHandler(promotionDoneSignal, (after, how) => {
    promotionFree = true;
    waitingAfter = after;
    toldAfterClose = how?.promotionClosed === true;
  });
  const gate = new ApprovalGate(status);
  upsertSearchAttributes([
    { key: SearchAttributeKeys.automation, value: automation.name },
    { key: SearchAttributeKeys.modelId, value: automation.model_id },
    { key: SearchAttributeKeys.buildId, value: buildId },
    { key: SearchAttributeKeys.variation, value: deploymentSpec.variation_name },
  ]);

  try {
    const workspace = await (patched(Patches.localWorkspaceClaim) ? localSteps : sharedSteps).claimWorkspace({ buildId });
    const limits = workspace.limits ?? DEFAULT_STEP_LIMITS;
    hostQueue = { taskQueue: workspace.hostTaskQueue, deadlineHours: limits.hostDeadlineHours };
    const host = hostSteps(workspace.hostTaskQueue, limits, deploymentSpec.deployment_process_timeout_limit);

    status.step = 'cloning';
    setCurrentDetails(runDetails.started(automation));
    const clone = await host.cloneModelRepository.executeWithOptions({ summary: activitySummaries.clone(buildSpec) }, [
      { buildId, buildSpec, automation: automation.name, modelId: automation.model_id },
    ]);
    status.git_commit = clone.commit;
    upsertSearchAttributes([{ key: SearchAttributeKeys.gitCommit, value: clone.commit }]);

    status.step = 'building';
    setCurrentDetails(runDetails.building(buildId, clone.commit));
    const built = buildOutputOf(
      await host.buildModel.executeWithOptions({ summary: activitySummaries.build(buildId, clone.commit) }, [
        buildModelInput(buildId, automation, clone.modelDir),
      ]),
    );
    build = {
      log_file: built.logFile,
      duration_ms: built.durationMs,
      tests: built.tests,
      environment_reused: built.environmentReused,
      limits: built.limits,
      tags: built.tags,
      ...(built.image ? { image: built.image.pinned } : {}),
    };

    status.step = 'collecting_metrics';
    // The build returns its metrics when they already hold the condition's metric; a metric still to come (MLflow),
    // or a build by an older worker, takes the step that waits for it. The recorded result decides, so a replay agrees.
    status.metrics =
      built.metrics ??
      (await host.collectMetrics.executeWithOptions({ summary: activitySummaries.metrics(buildId) }, [
        { buildId, metricsFile: built.metricsFile, metricName: condition?.metric_name },
      ]));

    status.step = 'checking_condition';
    setCurrentDetails(runDetails.checking(buildId, clone.commit));
    // Likewise a condition that needs only the metrics (none, or a static threshold) came decided with them.
    status.condition =
      built.condition ??
      (await host.checkDeploymentCondition.executeWithOptions({ summary: activitySummaries.condition(condition) }, [
        {
          condition,
          metrics: status.metrics,
          modelId: automation.model_id,
          variation: deploymentSpec.variation_name,
          environment: environments[0]!,
        },
      ]));
    // Runs started before the promotion patch recorded the outcome before approval (and kept "passed" after a rejection).
    const conditionPassed = status.condition.passed;
    if (!promotion) upsertSearchAttributes([{ key: SearchAttributeKeys.conditionOutcome, value: conditionPassed ? 'passed' : 'failed' }]);

    const approval = automation.action.approval;
    if (status.condition.passed && approval?.required && !(await gate.await(approval))) {
      status.condition = { ...status.condition, passed: false, reason: `${status.condition.reason}, but ${describeDecision(status.approval!)}` };
    }
    if (promotion)
      upsertSearchAttributes([
        { key: SearchAttributeKeys.conditionOutcome, value: !conditionPassed ? 'failed' : status.condition.passed ? 'passed' : 'rejected' },
      ]);

    const rollout = automation.action.rollout;
    // A target that runs images has nothing to run when the build pushed none (push_image: false).
    let notDeployed: string | undefined = status.condition.passed ? built.imageNotPushed : undefined;
    if (status.condition.passed && !notDeployed) {
      const request: Omit<DeploymentRequest, 'environment'> = {
        automation: automation.name,
        modelId: automation.model_id,
        buildId,
        spec: deploymentSpec,
        artifactDir: built.artifactDir,
        python: built.python,
        metrics: status.metrics,
        // Pinned by digest when the build pushed its image; older builds' outputs have none.
        ...(built.image ? { image: built.image.pinned } : {}),
        gitCommit: clone.commit,
      };
      status.step = rollout ? 'canary' : 'deploying';
      setCurrentDetails(runDetails.deploying(buildId, clone.commit, status.condition.reason));
      if (promotion) {
        const promoted = await promote({
          request,
          environments,
          condition,
          decided: status.condition,
          rollout,
          hostTaskQueue: workspace.hostTaskQueue,
          limits,
        });
        notDeployed = promoted.notDeployed;
      } else {
        notDeployed = await legacyDeploy(
          host,
          status,
          environments.map((environment) => ({ ...request, environment })),
          rollout,
        );
      }
    }

    const deployed = status.condition.passed && !notDeployed && status.deployments.length === environments.length;
    const approvedBy = deployed && status.approval ? `, ${describeDecision(status.approval)}` : '';
    const reason = deployed
      ? `deployed build ${buildId} (${describeTargets(status.deployments)}): ${status.condition.reason}${approvedBy}`
      : `not deployed: ${notDeployed ?? status.condition.reason}`;
    status.step = 'notifying';
    if (deployed && automation.on_success) notifications.push(await notify('on_success', automation.on_success, { outcome: 'deployed', reason, deployed }));
    status.step = 'finished';
    setCurrentDetails(runDetails.finished(deployed, buildId, status.git_commit, reason));
    // One line per outcome for a terminal that follows the worker (refit dev); replays log nothing.
    log.info(`${automation.name}: ${reason}`, { refitOutcome: deployed ? 'deployed' : 'not_deployed', buildId });
    upsertSearchAttributes([{ key: SearchAttributeKeys.deployed, value: deployed }]);
    const result: BuildDeployResult = { ...status, deployed, reason, build, notifications, trigger: input.trigger };
    upsertMemo({ result: memoOf(result, hostQueue?.taskQueue) });
    return result;
  } catch (err) {
    if (promotion && !isCancellation(err) && !isRunFailure(err)) {
      // A bug in this workflow, not a failure of the run: Temporal retries the workflow task, and the Web UI shows it.
      throw err;
    }
    if (!promotion && isCancellation(err)) throw err;
    const failedStep = status.step;
    const cause = promotion ? describeFailure(err, hostQueue) : rootCause(err);
    status.step = 'failed';
    status.error = `${failedStep.replace('_', ' ')} failed: ${cause.message}`;
    setCurrentDetails(`not deployed: ${status.error}`);
    log.info(`${automation.name}: not deployed: ${status.error}`, { refitOutcome: 'failed', buildId });
    // A cancelled run still says so, to its receivers and in its memo.
    await CancellationScope.nonCancellable(async () => {
      upsertSearchAttributes([{ key: SearchAttributeKeys.deployed, value: false }]);
      if (automation.on_error) notifications.push(await notify('on_error', automation.on_error, { outcome: 'failed', reason: status.error!, deployed: false }));
      upsertMemo({ result: memoOf({ ...status, deployed: false, reason: status.error!, build, notifications, trigger: input.trigger }, hostQueue?.taskQueue) });
    });
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.create({
      message: status.error,
      type: cause.type ?? 'RefitRunFailed',
      nonRetryable: true,
      details: [{ ...status, notifications }],
    });
  }

  /**
   * The deploy phase, as the model's promotion workflow: one at a time per model, so a run waits while
   * another run of the model promotes. What it changed and undid is recorded here; a failure is raised.
   */
  async function promote(promotionInput: PromotionInput): Promise<PromotionResult> {
    let result: PromotionResult | undefined;
    // Told that the promotion it waited for ended (by that promotion, or by the run that started it); how often since
    // then the promotion was found still closing.
    let told = false;
    let closingRetries = 0;
    const lineToParent = patched(Patches.promotionLineToParent);
    const input: PromotionInput = lineToParent ? { ...promotionInput, lineToParent } : promotionInput;
    for (let attempt = 0; !result; attempt++) {
      try {
        const child = await startChild(promoteBuild, {
          workflowId: promotionWorkflowId(automation.model_id),
          args: [waitingAfter.length ? { ...input, waiters: waitingAfter } : input],
          // If this run is terminated, its promotion is asked to cancel, which undoes what it changed.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
          typedSearchAttributes: [
            { key: SearchAttributeKeys.automation, value: automation.name },
            { key: SearchAttributeKeys.modelId, value: automation.model_id },
            { key: SearchAttributeKeys.buildId, value: buildId },
          ],
        });
        status.step = promotionInput.rollout ? 'canary' : 'deploying';
        result = await child.result();
        const line = result.line;
        // Also when this run is being cancelled: the next run must still hear it may go.
        if (line?.length) await CancellationScope.nonCancellable(() => handOnLine(line));
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        status.step = 'waiting_for_promotion';
        const backOff = Math.min(60_000, 5_000 * 2 ** Math.min(attempt, 4));
        if (!patched(Patches.promotionHandoff)) {
          await sleep(backOff);
          continue;
        }
        // A promotion that tells this run itself does so as its last step, so the run can find it still open for a
        // moment: a signal now would reach it after it has handed on its line, and the run would wait out its
        // back-off. Told by a run whose promotion had closed, a refused start means another run's promotion holds
        // the model now, and this run joins that one's line at once.
        if (told && !toldAfterClose && closingRetries < CLOSING_RETRIES && patched(Patches.promotionClosingRetry)) {
          closingRetries++;
          attempt--; // a retry while it closes is not another wait: the back-off does not grow
          await sleep(CLOSING_RETRY_MS);
          continue;
        }
        told = false;
        closingRetries = 0;
        // The promotion that holds the model hears this run waits and tells it when it ends; if it has
        // ended already (the signal finds no running promotion), the next try goes at once.
        promotionFree = false;
        const holder = getExternalWorkflowHandle(promotionWorkflowId(automation.model_id));
        const join = (waiter: PromotionWaiter) =>
          holder.signal(promotionWaitingSignal, waiter).then(
            () => true,
            () => false,
          );
        const heard = await join({ workflowId: info.workflowId, runId: info.runId });
        // Handed a line by a promotion that another run then beat to the next one: without this, the runs in
        // it would be in no promotion's line and wait out their own back-off. They join behind this run.
        if (heard && waitingAfter.length && patched(Patches.promotionCarriedLine)) {
          const carried = waitingAfter;
          waitingAfter = [];
          const left: PromotionWaiter[] = [];
          for (const waiter of carried) if (!(await join(waiter))) left.push(waiter);
          // Those the promotion did not hear (it ended meanwhile) go with this run's next try.
          waitingAfter = [...waitingAfter, ...left.filter((waiter) => !waitingAfter.some((each) => each.workflowId === waiter.workflowId))];
        }
        if (heard) told = await waitUntil(() => promotionFree, backOff);
      }
    }
    status.deployments = result.deployments;
    status.rolled_back.push(...result.rolled_back);
    if (result.canaries) status.canaries = result.canaries;
    if (result.reevaluated) {
      status.reevaluated = result.reevaluated;
      status.condition = result.condition;
    }
    if (result.cancelled) throw new CancelledFailure(result.failure?.message ?? 'cancelled');
    if (result.failure) throw ApplicationFailure.create({ message: result.failure.message, type: result.failure.type, nonRetryable: true });
    return result;
  }

  /** Sends a notification; a webhook that stays down is recorded, never fails or repeats the run. */
  async function notify(
    event: NotificationRecord['event'],
    notification: NonNullable<typeof automation.on_error>,
    outcome: { outcome: 'deployed' | 'failed'; reason: string; deployed: boolean },
  ): Promise<NotificationRecord> {
    try {
      const delivery = await notificationSteps.sendRunNotification({
        notification,
        event: { automation: automation.name, model_id: automation.model_id, build_id: buildId, git_commit: status.git_commit ?? '', ...outcome },
      });
      return { event, delivered: true, detail: `${notification.type} to ${delivery.target}: HTTP ${delivery.status}` };
    } catch (err) {
      return { event, delivered: false, detail: `${notification.type} not delivered: ${rootCause(err).message}` };
    }
  }
}

function describeTargets(deployments: DeploymentSummary[]): string {
  return deployments.map((deployment) => `variation ${deployment.variation}${deployment.environment ? ` in ${deployment.environment}` : ''}`).join(', ');
}

/** The part of the result kept in the memo, so the Web UI shows the decision without opening history. */
function memoOf(result: BuildDeployResult, hostTaskQueue: string | undefined) {
  return {
    host_task_queue: hostTaskQueue,
    deployed: result.deployed,
    reason: result.reason,
    build_id: result.build_id,
    git_commit: result.git_commit,
    condition: result.condition,
    deployments: result.deployments.map((deployment) => ({ environment: deployment.environment, variation: deployment.variation, url: deployment.url })),
    approval: result.approval,
    canaries: result.canaries?.map((canary) => ({
      environment: canary.environment,
      outcome: canary.outcome,
      steps: canary.steps.map((step) => `${step.percent}%: ${step.guard.reason}`),
    })),
  };
}

// The failure paths of delivery, each forced: Refit's real workflows on the real dev server, with the
// activities replaced by test doubles (they stand in for builds and deployment targets, which other tests
// run for real) so that a second environment, a guard, a rollback or a worker can fail on cue.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import type { DeploymentRequest } from '../../shared/deployment.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { WorkflowTypes } from '../../shared/names.js';
import type { BuildDeployInput, BuildDeployResult, ConditionOutcome, DeploymentSummary } from '../../shared/runTypes.js';
import type { StepLimits } from '../../shared/stepLimits.js';
import { validateAutomation } from '../../spec/validate.js';
import { activityInterceptors } from '../../worker/errorClassification.js';
import { readRunState } from '../harness/runState.js';
import { recordHistory } from '../harness/recordHistory.js';
import { activityAttempts } from '../harness/runHistory.js';
import { waitForStatus } from '../harness/runStatus.js';
import { connectToTestServer, uniqueTaskQueue } from '../harness/temporal.js';

interface Serving {
  buildId: string;
  f1: number;
}

/** Doubles of every activity the BuildDeploy and promotion workflows call, with a record of the calls. */
class Doubles {
  calls: { name: string; input: any }[] = [];
  /** What serves per environment, which deployBuild changes and rollbackDeployment puts back. */
  serving = new Map<string, Serving>();
  failDeployIn = new Set<string>();
  failRollbackIn = new Set<string>();
  slowDeployMs = 0;
  /** An environment whose deploy waits until it is cancelled. */
  hangDeployIn = new Set<string>();
  guard: 'pass' | 'error' = 'pass';
  limits: StepLimits = { buildMinutes: 1, metricWaitMinutes: 1, queryMinutes: 1, hostDeadlineHours: 1 };
  hostQueue = '';
  /** Each build's f1_score, from its definition's F1 variable (0.9 without one). */
  f1ByBuild = new Map<string, number>();

  names(): string[] {
    return this.calls.map((call) => call.name);
  }

  activities() {
    const record = (name: string, input: any) => this.calls.push({ name, input });
    const summary = (request: { environment: string; spec: { variation_name: string }; buildId: string }, previous?: string): DeploymentSummary => ({
      environment: request.environment,
      variation: request.spec.variation_name,
      build_id: request.buildId,
      previous_build_id: previous,
      changed: true,
      notes: [],
    });
    return {
      claimWorkspace: async (input: { buildId: string }) => (
        record('claimWorkspace', input),
        { hostTaskQueue: this.hostQueue, buildDir: '/nowhere', limits: this.limits }
      ),
      cloneModelRepository: async (input: unknown) => (record('cloneModelRepository', input), { commit: 'c0ffee', modelDir: '/nowhere/src' }),
      buildModel: async (input: { buildId: string; buildSpec: { env_vars: string[] } }) => {
        record('buildModel', input);
        const f1 = input.buildSpec.env_vars.find((entry) => entry.startsWith('F1='));
        this.f1ByBuild.set(input.buildId, f1 ? Number(f1.slice(3)) : 0.9);
        return {
          artifactDir: '/nowhere/artifact',
          metricsFile: '/nowhere/m',
          python: 'python3',
          logFile: '/nowhere/log',
          durationMs: 1,
          tests: 'none' as const,
          environmentReused: true,
          limits: [],
          tags: [],
        };
      },
      collectMetrics: async (input: { buildId: string }) => (record('collectMetrics', input), { f1_score: this.f1ByBuild.get(input.buildId) ?? 0.9 }),
      checkDeploymentCondition: async (input: { metrics: { f1_score: number }; environment: string }): Promise<ConditionOutcome> => {
        record('checkDeploymentCondition', input);
        const champion = this.serving.get(input.environment);
        const value = input.metrics.f1_score;
        if (!champion) return { passed: true, reason: 'first build', threshold_source: 'serving_build', metric_name: 'f1_score', value };
        const passed = value > champion.f1;
        return {
          passed,
          reason: `f1_score ${value} ${passed ? 'beats' : 'does not beat'} ${champion.buildId} (${champion.f1})`,
          threshold_source: 'serving_build',
          serving_build_id: champion.buildId,
          threshold: champion.f1,
          value,
          metric_name: 'f1_score',
        };
      },
      deployBuild: async (request: DeploymentRequest) => {
        record('deployBuild', request);
        if (this.hangDeployIn.has(request.environment)) {
          const context = Context.current();
          for (;;) {
            context.heartbeat();
            if (context.cancellationSignal.aborted) throw new Error('cancelled');
            await sleep(200);
          }
        }
        if (this.slowDeployMs) await sleep(this.slowDeployMs);
        if (this.failDeployIn.has(request.environment))
          throw ApplicationFailure.nonRetryable(`the rollout in ${request.environment} never became ready`, ErrorTypes.DeploymentFailed);
        const previous = this.serving.get(request.environment);
        this.serving.set(request.environment, { buildId: request.buildId, f1: request.metrics.f1_score! });
        return summary(request, previous?.buildId);
      },
      rollbackDeployment: async (input: { environment: string; previousBuildId?: string; variation: string; modelId: string }) => {
        record('rollbackDeployment', input);
        if (this.failRollbackIn.has(input.environment))
          throw ApplicationFailure.nonRetryable(`cannot put back ${input.previousBuildId} in ${input.environment}`, ErrorTypes.DeploymentFailed);
        if (input.previousBuildId) this.serving.set(input.environment, { buildId: input.previousBuildId, f1: 0 });
        else this.serving.delete(input.environment);
        return input.previousBuildId
          ? { environment: input.environment, variation: input.variation, build_id: input.previousBuildId, changed: true, notes: [] }
          : undefined;
      },
      startCanary: async (input: { request: DeploymentRequest; percent: number }) => (record('startCanary', input), summary(input.request, 'champion-build')),
      setCanaryWeight: async (input: unknown) => void record('setCanaryWeight', input),
      evaluateRolloutGuard: async (input: unknown): Promise<ConditionOutcome> => {
        record('evaluateRolloutGuard', input);
        if (this.guard === 'error')
          throw new RefitError(ErrorTypes.ThresholdQueryInvalid, "the canary guard's query failed: Catalog Error: Table with name live_errs does not exist!");
        return { passed: true, reason: 'fine', threshold_source: 'static' };
      },
      abortCanary: async (input: unknown) => void record('abortCanary', input),
      promoteCanary: async (input: { target: { environment: string; variation: string; buildId: string } }) => (
        record('promoteCanary', input),
        {
          environment: input.target.environment,
          variation: input.target.variation,
          build_id: input.target.buildId,
          previous_build_id: 'champion-build',
          changed: true,
          notes: [],
        }
      ),
      sendRunNotification: async (input: unknown) => (record('sendRunNotification', input), { status: 200, target: 'test' }),
    };
  }
}

describe('delivery under failure (activities replaced by doubles)', () => {
  let server: Awaited<ReturnType<typeof connectToTestServer>>;
  let doubles: Doubles;
  let taskQueue: string;
  let workers: Worker[];
  let running: Promise<unknown>[];
  let counter = 0;

  beforeAll(async () => {
    server = await connectToTestServer();
  });
  afterAll(async () => server?.close());

  async function startWorkers(options: { host?: boolean } = {}) {
    doubles = new Doubles();
    taskQueue = uniqueTaskQueue('delivery');
    doubles.hostQueue = `${taskQueue}@double-host`;
    const common = {
      connection: server.nativeConnection,
      namespace: server.namespace,
      activities: doubles.activities(),
      interceptors: { activity: [activityInterceptors] },
      shutdownGraceTime: '2 seconds',
    };
    workers = [await Worker.create({ ...common, taskQueue, workflowBundle: { codePath: readRunState().workflowBundlePath } })];
    if (options.host !== false) workers.push(await Worker.create({ ...common, taskQueue: doubles.hostQueue }));
    running = workers.map((worker) => worker.run());
  }

  async function stopWorkers() {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.all(running.map((run) => run.catch(() => undefined)));
  }

  const automation = (change: (input: Record<string, any>) => void = () => undefined) => {
    const input: Record<string, any> = {
      name: 'delivery',
      model_id: `delivered-${counter}`,
      trigger: { type: 'NoneTrigger' },
      action: {
        build_spec: { git_uri: 'https://example.com/models.git' },
        deployment_condition: { type: 'DeployedBuildMetric', metric_name: 'f1_score', direction: 'ABOVE' },
        deployment_spec: { number_of_pods: 1, environments: ['staging', 'prod'] },
      },
      on_error: { type: 'CustomWebhook', url: 'https://hooks.example.com/refit' },
    };
    change(input);
    const validated = validateAutomation(input);
    if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
    return validated.automation;
  };

  /** Runs of one model (a fresh one) whose builds (0.95) all beat the champion serving before them (0.9). */
  const runsOfOneModel = (prefix: string) => {
    doubles.serving.clear();
    counter += 1;
    const model = `${prefix}-${counter}`;
    const definition = automation((input) => {
      input.model_id = model;
      input.action.deployment_spec.environments = [];
      input.action.build_spec.env_vars = ['F1=0.95'];
    });
    doubles.serving.set('', { buildId: 'champion-0', f1: 0.9 });
    return { model, definition };
  };

  const start = (definition = automation()) =>
    server.client.workflow.start<(input: BuildDeployInput) => Promise<BuildDeployResult>>(WorkflowTypes.buildDeploy, {
      taskQueue,
      workflowId: `delivery-${++counter}-${taskQueue}`,
      args: [{ automation: definition, trigger: { kind: 'manual' } }],
    });

  async function failure(handle: WorkflowHandle): Promise<{ message: string; type?: string; details: any }> {
    const error = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    return { message: cause.message, type: cause.type ?? undefined, details: cause.details?.[0] };
  }

  describe('with a host worker', () => {
    beforeAll(() => startWorkers());
    afterAll(() => stopWorkers());

    it("rolls back the first environment when the second fails, and reports the second one's error", async () => {
      doubles.failDeployIn.add('prod');
      doubles.serving.set('staging', { buildId: 'old-staging', f1: 0.5 });
      const handle = await start();
      const failed = await failure(handle);
      expect(failed.type).toBe(ErrorTypes.DeploymentFailed);
      expect(failed.message).toMatch(/^(deploying|rolling back) failed: the rollout in prod never became ready$/);
      expect(failed.details.rolled_back).toEqual([expect.objectContaining({ environment: 'staging', build_id: 'old-staging', undo: 'rolled_back' })]);
      expect(doubles.serving.get('staging')?.buildId).toBe('old-staging');
      // on_error went out once, after the undo.
      expect(doubles.names().filter((name) => name === 'sendRunNotification')).toHaveLength(1);
      await recordHistory(server.client, handle.workflowId, 'build-deploy-second-environment-failed');
      await recordHistory(
        server.client,
        `refit-promotion-${(await handle.describe()).searchAttributes?.RefitModelId?.[0]}`,
        'promote-build-second-environment-failed',
      );
    });

    it('still runs the other undos when one fails, and reports the original error', async () => {
      doubles.failDeployIn.clear();
      doubles.serving.clear();
      doubles.serving.set('a', { buildId: 'old-a', f1: 0.5 });
      doubles.serving.set('b', { buildId: 'old-b', f1: 0.5 });
      doubles.failDeployIn.add('c');
      doubles.failRollbackIn.add('b');
      const failed = await failure(await start(automation((input) => (input.action.deployment_spec.environments = ['a', 'b', 'c']))));
      expect(failed.message).toMatch(/failed: the rollout in c never became ready$/);
      expect(failed.details.rolled_back).toEqual([
        expect.objectContaining({ environment: 'b', failed: 'cannot put back old-b in b' }),
        expect.objectContaining({ environment: 'a', build_id: 'old-a', undo: 'rolled_back' }),
      ]);
      expect(doubles.serving.get('a')?.buildId).toBe('old-a');
    });

    it("takes a canary out at once when its guard fails to answer, and reports the guard's error", async () => {
      doubles.failDeployIn.clear();
      doubles.failRollbackIn.clear();
      doubles.guard = 'error';
      const handle = await start(
        automation((input) => {
          input.action.deployment_spec.environments = [];
          input.action.rollout = {
            strategy: 'canary',
            steps: [10, 100],
            interval: '1s',
            guard: { type: 'LiveMetric', sql_query: 'SELECT max(e) FROM live_errs', direction: 'BELOW', threshold: 0.1 },
          };
        }),
      );
      const failed = await failure(handle);
      expect(failed.type).toBe(ErrorTypes.ThresholdQueryInvalid);
      expect(failed.message).toMatch(/Table with name live_errs does not exist/);
      expect(doubles.names()).toContain('abortCanary');
      expect(failed.details.rolled_back).toEqual([expect.objectContaining({ undo: 'canary_aborted', build_id: 'champion-build' })]);
      // A configuration error: the guard was asked once, not retried.
      expect((await activityAttempts(server.client, handle.workflowId, 'evaluateRolloutGuard')).attempts).toEqual([1]);
      doubles.guard = 'pass';
    });

    it('undoes what it changed when the run is cancelled during a deploy, and says so to on_error', async () => {
      doubles.serving.clear();
      doubles.serving.set('staging', { buildId: 'old-staging', f1: 0.5 });
      doubles.hangDeployIn.add('prod');
      doubles.calls = [];
      const handle = await start();
      for (let waited = 0; !doubles.calls.some((call) => call.name === 'deployBuild' && call.input.environment === 'prod'); waited += 100) {
        if (waited > 30_000) throw new Error('the prod deploy never started');
        await sleep(100);
      }
      await handle.cancel();
      const error = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect(doubles.serving.get('staging')?.buildId).toBe('old-staging');
      expect(doubles.names()).toContain('rollbackDeployment');
      const memo = (await handle.describe()).memo?.result as { reason: string };
      expect(memo.reason).toMatch(/cancelled/);
      expect(doubles.names().filter((name) => name === 'sendRunNotification').length).toBeGreaterThanOrEqual(1);
      doubles.hangDeployIn.clear();
    });

    it("rejects a build when nobody decides in time (the policy's default)", async () => {
      const result = await (await start(automation((input) => (input.action.approval = { required: true, timeout: '2s' })))).result();
      expect(result).toMatchObject({ deployed: false, approval: { decision: 'timed_out_rejected', by: 'timeout' } });
      expect(result.reason).toMatch(/nobody decided in time, so it was rejected/);
    });

    it('promotes one run of a model at a time: of two that beat the same champion, the second decides again against the first', async () => {
      doubles.serving.clear();
      counter += 1;
      const model = `raced-${counter}`;
      const definition = (f1: number) =>
        automation((input) => {
          input.model_id = model;
          input.action.deployment_spec.environments = [];
          input.action.build_spec.env_vars = [`F1=${f1}`];
        });
      doubles.serving.set('', { buildId: 'champion-0', f1: 0.9 });
      doubles.slowDeployMs = 6_000;
      // The second run decides while the first deploys: both beat champion-0, the second waits its turn.
      const first = await start(definition(0.95));
      await waitForStatus(first, (status) => status.step === 'deploying', 30_000);
      const second = await start(definition(0.92));
      await waitForStatus(second, (status) => status.step === 'waiting_for_promotion', 30_000);
      const doneAt = (handle: typeof first) => handle.result().then((result) => ({ result, at: Date.now() }));
      const [one, two] = await Promise.all([doneAt(first), doneAt(second)]);
      doubles.slowDeployMs = 0;
      // The first promotion tells the waiting run as it ends: it goes at once, not after its back-off (5, then 10 s).
      expect(two.at - one.at).toBeLessThan(3_000);
      const told = (await second.fetchHistory()).events?.filter(
        (event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'refit.promotionDone',
      );
      expect(told).toHaveLength(1);
      expect([one.result.deployed, two.result.deployed]).toEqual([true, false]);
      expect(one.result.condition).toMatchObject({ serving_build_id: 'champion-0', passed: true });
      expect(two.result.reevaluated).toMatch(
        new RegExp(
          `the serving build changed from champion-0 to ${one.result.build_id} while this run was evaluating, so it decided again: f1_score 0.92 does not beat ${one.result.build_id} \\(0.95\\)`,
        ),
      );
      expect(two.result.reason).toMatch(/^not deployed: the serving build changed/);
      expect(doubles.serving.get('')?.buildId).toBe(one.result.build_id);
      // The run whose promotion closed told the waiting one, which then started its promotion without a retry.
      expect(told![0]!.workflowExecutionSignaledEventAttributes?.externalWorkflowExecution?.workflowId).toBe(first.workflowId);
      // All three sides of the hand-over, for the replay test: the run that handed on, the promotion that
      // returned its line, and the run told to go.
      await recordHistory(server.client, first.workflowId, 'build-deploy-line-to-parent');
      await recordHistory(server.client, second.workflowId, 'build-deploy-told-after-close');
      const promotion = (await first.fetchHistory()).events?.find((event) => event.childWorkflowExecutionStartedEventAttributes)
        ?.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      await recordHistory(server.client, promotion!.workflowId!, 'promote-build-line-to-parent', promotion!.runId!);
    });

    it('lets a line of runs of one model promote one after another, each going when told (none waits out its back-off)', async () => {
      const { definition } = runsOfOneModel('lined');
      // Twelve decide at once against champion-0; the first promotes, the others line up and, told in turn, decide
      // again (0.95 does not beat the first) in promotions of a few workflow tasks. Runs keep joining the line while
      // it is handed on, and a told run can find the promotion that told it still closing: before, one of them
      // waited out its back-off (5 s) in most tries.
      const runs = await Promise.all(Array.from({ length: 12 }, () => start(definition)));
      const results = await Promise.all(runs.map((run) => run.result()));
      expect(results.filter((result) => result.deployed)).toHaveLength(1);
      const histories = await Promise.all(
        runs.map(async (run) => ({
          run,
          events: (await run.fetchHistory()).events ?? [],
          patches: ((await run.describe()).searchAttributes?.TemporalChangeVersion ?? []) as string[],
        })),
      );
      for (const [index, { events }] of histories.entries()) {
        const backOffs = new Set(
          events
            .filter((event) => Number(event.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? 0) >= 5)
            .map((event) => event.timerStartedEventAttributes!.timerId),
        );
        const ranOut = events.filter((event) => event.timerFiredEventAttributes && backOffs.has(event.timerFiredEventAttributes.timerId!));
        // Told only by runs whose promotion had closed, no run retries while a promotion closes.
        const closingRetries = events.filter((event) => event.timerFiredEventAttributes && !backOffs.has(event.timerFiredEventAttributes.timerId!));
        expect({ run: index, backOffsRunOut: ranOut.length, closingRetries: closingRetries.length }).toEqual({
          run: index,
          backOffsRunOut: 0,
          closingRetries: 0,
        });
      }
      // For the replay test, when this try took them (which run does is a race): a run that retried while the
      // promotion closed, and a promotion that told runs which joined during its hand-over.
      const retried = histories.find(({ patches }) => patches.includes('refit-promotion-closing-retry'));
      if (retried) await recordHistory(server.client, retried.run.workflowId, 'build-deploy-promotion-closing-retry');
      for (const { events } of histories) {
        const child = events.find((event) => event.childWorkflowExecutionStartedEventAttributes)?.childWorkflowExecutionStartedEventAttributes
          ?.workflowExecution;
        if (!child) continue;
        const promotion = (await server.client.workflow.getHandle(child.workflowId!, child.runId!).fetchHistory()).events ?? [];
        if (promotion.filter((event) => event.signalExternalWorkflowExecutionInitiatedEventAttributes).length > 1) {
          await recordHistory(server.client, child.workflowId!, 'promote-build-told-late-waiters', child.runId!);
          break;
        }
      }
    }, 120_000);

    it('brings the runs it was handed into the line of a promotion that another run started first (none is left in no line)', async () => {
      const { model, definition } = runsOfOneModel('carried');
      // Promotions the test holds: a workflow under the model's promotion id, on a queue no worker polls.
      const hold = () => server.client.workflow.start('heldPromotion', { taskQueue: `${taskQueue}-held`, workflowId: `refit-promotion-${model}` });
      const first = await hold();
      const [b, c, d] = await Promise.all([start(definition), start(definition), start(definition)]);
      for (const run of [b, c, d]) await waitForStatus(run, (status) => status.step === 'waiting_for_promotion', 30_000);
      // The race this forces: the promotion that c and d joined hands its line to b, but a run told "try again"
      // starts the next promotion before b does.
      await first.terminate('the test ends the promotion the runs joined');
      const second = await hold();
      const runIds = await Promise.all([c, d].map(async (run) => (await run.describe()).runId));
      await b.signal('refit.promotionDone', [
        { workflowId: c.workflowId, runId: runIds[0] },
        { workflowId: d.workflowId, runId: runIds[1] },
      ]);
      // b finds the new promotion, tries again while it might be closing, then joins its line: with c and d behind it.
      const joinedFromB = async () =>
        ((await second.fetchHistory()).events ?? [])
          .map((event) => event.workflowExecutionSignaledEventAttributes)
          .filter((signal) => signal?.signalName === 'refit.promotionWaiting' && signal.externalWorkflowExecution?.workflowId === b.workflowId)
          .map((signal) => (JSON.parse(Buffer.from(signal!.input!.payloads![0]!.data!).toString()) as { workflowId: string }).workflowId);
      let joined: string[] = [];
      for (let waited = 0; joined.length < 3 && waited < 20_000; waited += 250) {
        await sleep(250);
        joined = await joinedFromB();
      }
      expect(joined).toEqual([b.workflowId, c.workflowId, d.workflowId]);
      await recordHistory(server.client, b.workflowId, 'build-deploy-carried-line-to-parent');
      await Promise.all([second, b, c, d].map((handle) => handle.terminate('the test is done with it').catch(() => undefined)));
    }, 60_000);

    it('keeps its build id when the run is reset', async () => {
      const handle = await start(automation((input) => (input.action.deployment_spec.environments = [])));
      const result = await handle.result();
      const history = await handle.fetchHistory();
      const firstTask = history.events!.find((event) => event.workflowTaskCompletedEventAttributes)!;
      const { runId } = await server.client.workflowService.resetWorkflowExecution({
        namespace: server.namespace,
        workflowExecution: { workflowId: handle.workflowId, runId: (await handle.describe()).runId },
        workflowTaskFinishEventId: firstTask.eventId,
        reason: 'test: a reset keeps the build id',
        requestId: `reset-${handle.workflowId}`,
      });
      const reset = await server.client.workflow.getHandle(handle.workflowId, runId ?? undefined).result();
      expect(reset.build_id).toBe(result.build_id);
    });
  });

  describe('without the host worker', () => {
    beforeAll(() => startWorkers({ host: false }));
    afterAll(() => stopWorkers());

    it('fails a step whose worker never comes back, naming the worker', async () => {
      doubles.limits = { ...doubles.limits, hostDeadlineHours: 0.002 };
      const failed = await failure(await start());
      expect(failed.type).toBe(ErrorTypes.WorkerLost);
      expect(failed.message).toMatch(/^cloning failed: worker double-host did not come back within 7 s to finish cloneModelRepository/);
    });
  });
});

// Each configuration error the README lists fails the run on its first attempt, with a message that says
// what to fix: real activities against the real servers (git server, builds, analytics, local serving).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { ErrorTypes } from '../../shared/errors.js';
import { DEFAULT_STEP_LIMITS } from '../../shared/stepLimits.js';
import { MODEL_FOLDER, startFixture, type Fixture } from '../harness/buildDeployFixture.js';

describe('configuration errors fail at once', () => {
  let fixture: Fixture;
  beforeAll(async () => {
    // Metrics are awaited for 3 s here rather than a minute.
    fixture = await startFixture('config-errors', { limits: { ...DEFAULT_STEP_LIMITS, metricWaitMinutes: 0.05 } });
    await new LocalSecretStore(path.join(fixture.home, 'secrets')).set('wrong_token', 'not-the-token');
  }, 120_000);
  afterAll(async () => fixture?.close());

  /** The attempts of each activity type the run started, from its history. */
  async function attemptsOf(workflowId: string): Promise<Record<string, number[]>> {
    const history = await fixture.server.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = new Map<string, string>();
    const attempts: Record<string, number[]> = {};
    for (const event of history.events ?? []) {
      if (event.activityTaskScheduledEventAttributes) scheduled.set(String(event.eventId), event.activityTaskScheduledEventAttributes.activityType?.name ?? '');
      const started = event.activityTaskStartedEventAttributes;
      if (started) (attempts[scheduled.get(String(started.scheduledEventId)) ?? '?'] ??= []).push(started.attempt ?? 1);
    }
    return attempts;
  }

  it.each([
    [
      'a refused token',
      'cloneModelRepository',
      ErrorTypes.GitAuthenticationFailed,
      /the token in secret "wrong_token" was refused/,
      (input: Record<string, any>) => (input.action.build_spec.git_access_token_secret = 'wrong_token'),
    ],
    [
      'an unknown branch',
      'cloneModelRepository',
      ErrorTypes.GitBranchNotFound,
      /the branch "no-such-branch" does not exist; check git_branch/,
      (input: Record<string, any>) => (input.action.build_spec.git_branch = 'no-such-branch'),
    ],
    [
      'a missing folder',
      'cloneModelRepository',
      ErrorTypes.ModelFolderNotFound,
      /the folder "models\/nope" \(after "#" in git_uri\) does not exist/,
      (input: Record<string, any>) => (input.action.build_spec.git_uri = input.action.build_spec.git_uri.replace(MODEL_FOLDER, 'models/nope')),
    ],
    [
      'a failing test',
      'buildModel',
      ErrorTypes.TestsFailed,
      /the model's tests failed/,
      (input: Record<string, any>) => (input.action.build_spec.env_vars = ['EXAMPLE_FAIL_TESTS=1']),
    ],
    [
      'a metric that never appears',
      'collectMetrics',
      ErrorTypes.MetricNotFound,
      /logged no metric "recall_at_k"/,
      (input: Record<string, any>) => (input.action.deployment_condition.metric_name = 'recall_at_k'),
    ],
    [
      'a malformed threshold query',
      'checkDeploymentCondition',
      ErrorTypes.ThresholdQueryInvalid,
      /returned 2 columns/,
      (input: Record<string, any>) => (input.action.deployment_condition.threshold = 'SELECT 1 AS a, 2 AS b'),
    ],
    [
      'a rollout that never becomes ready',
      'promoteBuild',
      ErrorTypes.DeploymentFailed,
      /was not deployed .*did not become ready in time/,
      (input: Record<string, any>) => {
        input.action.deployment_spec.deployment_process_timeout_limit = 2;
        input.action.deployment_spec.env_vars = ['SERVING_START_DELAY_SECONDS=30'];
      },
    ],
  ])('%s: fails on the first attempt of %s, saying what to fix', async (_what, activity, type, message, change) => {
    const failed = await fixture.runFailing(fixture.automation(change));
    expect(failed.type).toBe(type);
    expect(failed.message).toMatch(message);
    const attempts = await attemptsOf(failed.workflowId);
    if (activity === 'promoteBuild') {
      // The deploy runs in the model's promotion workflow (its latest run is this run's): one attempt of deployBuild there.
      const promotion = await fixture.server.client.workflow.getHandle(`refit-promotion-${fixture.automation(() => undefined).model_id}`).fetchHistory();
      const started = (promotion.events ?? [])
        .filter((event) => event.activityTaskStartedEventAttributes)
        .map((event) => event.activityTaskStartedEventAttributes!.attempt ?? 1);
      expect(started).toEqual([1]);
    } else {
      expect(attempts[activity]).toEqual([1]);
    }
    for (const tries of Object.values(attempts)) expect(Math.max(...tries)).toBe(1);
  });
});

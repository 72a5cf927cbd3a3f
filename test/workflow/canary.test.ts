import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DuckDBInstance } from '@duckdb/node-api';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { RefitClient } from '../../client/refitClient.js';
import { LocalDeploymentTarget } from '../../activities/deploy/local/localTarget.js';
import { packageRoot } from '../../platform/paths.js';
import type { BuildDeployResult, RunStatus } from '../../shared/runTypes.js';
import { predict, startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { recordHistory } from '../harness/recordHistory.js';
import { activityAttempts } from '../harness/runHistory.js';
import { waitForStatus } from '../harness/runStatus.js';

describe('canary rollouts on the local target', () => {
  let fixture: Fixture;
  let refit: RefitClient;
  let target: LocalDeploymentTarget;
  beforeAll(async () => {
    fixture = await startFixture('canary');
    refit = new RefitClient(fixture.server.client, fixture.taskQueue);
    target = new LocalDeploymentTarget({
      deploymentsRoot: path.join(fixture.home, 'deployments'),
      sdkPythonPath: path.join(packageRoot(), 'sdk', 'python'),
      secrets: null as never,
    });
    await setErrorRate('none', 0);
  });
  afterAll(async () => fixture?.close());

  /** Live analytics: the error rate each build shows in production, as a monitoring job would record it. */
  const setErrorRate = async (buildId: string, rate: number) => {
    const instance = await DuckDBInstance.create(path.join(fixture.home, 'analytics.duckdb'));
    const connection = await instance.connect();
    await connection.run('CREATE TABLE IF NOT EXISTS live_errors (build_id VARCHAR, error_rate DOUBLE)');
    await connection.run(`DELETE FROM live_errors WHERE build_id = '${buildId}'`);
    await connection.run(`INSERT INTO live_errors VALUES ('${buildId}', ${rate})`);
    connection.closeSync();
    instance.closeSync();
  };

  const canaryAutomation = () =>
    fixture.automation((input) => {
      input.name = 'canaried';
      input.action.deployment_spec.number_of_pods = 1;
      input.action.rollout = {
        strategy: 'canary',
        steps: [10, 50, 100],
        interval: '3s',
        guard: {
          type: 'LiveMetric',
          sql_query: "SELECT max(error_rate) FROM live_errors WHERE build_id = '{{build_id}}'",
          direction: 'BELOW',
          threshold: 0.05,
        },
      };
    });

  const waitFor = (handle: WorkflowHandle, test: (status: RunStatus) => boolean) => waitForStatus(handle, test, 120_000);

  let champion: string;

  it('deploys the first build of a model at once: there is nothing to compare it with', async () => {
    const result = (await (await refit.runDefinition(canaryAutomation())).result()) as BuildDeployResult;
    expect(result).toMatchObject({ deployed: true, canaries: [{ outcome: 'promoted', percent: 100, steps: [] }] });
    champion = result.build_id;
  });

  it('rolls back to the previous build at once when the guard fails at 50%, and says why', async () => {
    const handle = await refit.runDefinition(canaryAutomation());
    const canary = await waitFor(handle, (status) => status.step === 'canary' && status.canaries?.[0]?.percent === 10);
    await setErrorRate(canary.build_id, 0.01);
    // At 10% the router sends about one request in ten to the canary.
    const serving = (await target.status('canary', ''))!;
    const builds: string[] = [];
    for (let request = 0; request < 100; request++) builds.push((await predict(serving.url!, 'canary')).build ?? '');
    const toCanary = builds.filter((build) => build === canary.build_id).length;
    expect(toCanary).toBeGreaterThan(0);
    expect(toCanary).toBeLessThan(35);
    expect(builds.filter((build) => build === champion).length).toBe(100 - toCanary);

    await waitFor(handle, (status) => status.canaries?.[0]?.percent === 50);
    await setErrorRate(canary.build_id, 0.2); // the canary goes bad before its 50% check
    const result = (await handle.result()) as BuildDeployResult;
    expect(result).toMatchObject({
      deployed: false,
      deployments: [],
      canaries: [
        {
          outcome: 'rolled_back',
          steps: [
            { percent: 10, guard: { passed: true } },
            { percent: 50, guard: { passed: false, value: 0.2 } },
          ],
        },
      ],
    });
    expect(result.reason).toBe(`not deployed: the canary guard failed at 50%: the live value 0.2 is not below 0.05; rolled back to build ${champion}`);
    const after = (await target.status('canary', ''))!;
    expect(after.variations.default!.buildId).toBe(champion);
    expect((await predict(after.url!, 'canary')).build).toBe(champion);
    await recordHistory(fixture.server.client, handle.workflowId, 'canary-rolled-back');
  });

  it('reaches 100% and promotes the new build when the guard holds at every step', async () => {
    const handle = await refit.runDefinition(canaryAutomation());
    const canary = await waitFor(handle, (status) => status.step === 'canary');
    await setErrorRate(canary.build_id, 0.01);
    const result = (await handle.result()) as BuildDeployResult;
    expect(result).toMatchObject({ deployed: true, canaries: [{ outcome: 'promoted', steps: [{ percent: 10 }, { percent: 50 }, { percent: 100 }] }] });
    expect(result.canaries![0]!.steps.every((step) => step.guard.passed)).toBe(true);
    const after = (await target.status('canary', ''))!;
    expect(after.variations.default).toMatchObject({ buildId: canary.build_id });
    expect((await predict(after.url!, 'canary')).build).toBe(canary.build_id);
    await recordHistory(fixture.server.client, handle.workflowId, 'canary-promoted');
  });

  it('takes the canary out at once when its guard query fails: the previous build serves every request again', async () => {
    const serving = (await target.status('canary', ''))!.variations.default!.buildId;
    const broken = canaryAutomation();
    broken.action.rollout!.guard = {
      type: 'LiveMetric',
      sql_query: "SELECT max(error_rate) FROM no_such_table WHERE build_id = '{{build_id}}'",
      direction: 'BELOW',
      threshold: 0.05,
    };
    const handle = await refit.runDefinition(broken);
    const error = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause?.message).toMatch(/^canary failed: the canary guard's query failed: .*no_such_table/);
    // Taken out once, in the run's promotion; the guard was asked once (a query to fix is not retried).
    expect((await activityAttempts(fixture.server.client, handle.workflowId, 'abortCanary')).completed).toBe(1);
    expect((await activityAttempts(fixture.server.client, handle.workflowId, 'evaluateRolloutGuard')).attempts).toEqual([1]);
    const after = (await target.status('canary', ''))!;
    expect(after.variations.default).toMatchObject({ buildId: serving });
    for (let request = 0; request < 20; request++) expect((await predict(after.url!, 'canary')).build).toBe(serving);
  });
});

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { recordLatestHistory } from '../harness/recordHistory.js';
import { WorkflowTypes } from '../../shared/names.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalDeploymentTarget } from '../../activities/deploy/local/localTarget.js';
import { RefitClient } from '../../client/refitClient.js';
import { scheduleIdOf } from '../../client/schedules.js';
import { packageRoot } from '../../platform/paths.js';
import { toYaml } from '../../spec/yaml.js';
import { startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { readRunState } from '../harness/runState.js';

const run = promisify(execFile);

describe('refit plan', () => {
  let fixture: Fixture;
  let refit: RefitClient;
  beforeAll(async () => {
    fixture = await startFixture('plan');
    refit = new RefitClient(fixture.server.client, fixture.taskQueue);
  });
  afterAll(async () => {
    await refit?.delete('planned').catch(() => undefined);
    await fixture?.close();
  });

  const planCli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [path.join(packageRoot(), 'dist', 'client', 'cli.js'), 'plan', ...args], {
      env: { ...process.env, TEMPORAL_ADDRESS: readRunState().address, REFIT_TASK_QUEUE: fixture.taskQueue, NO_COLOR: '1' },
    });
    return stdout;
  };

  it('prints the exact schedule diff of a changed definition, and what a run would do, changing nothing', async () => {
    const registered = fixture.automation((input) => {
      input.name = 'planned';
      input.trigger = { type: 'ScheduledTrigger', cron: '0 0 * * 0' };
    });
    await refit.register([registered]);
    const schedule = fixture.server.client.schedule.getHandle(scheduleIdOf('planned'));
    const before = await schedule.describe();

    const changed = fixture.automation((input) => {
      input.name = 'planned';
      input.trigger = { type: 'ScheduledTrigger', cron: '30 4 * * 1', overlap_policy: 'buffer_one' };
      input.action.deployment_condition.threshold = '0.7';
    });
    const file = path.join(fixture.home, 'planned.yaml');
    writeFileSync(file, toYaml(changed));
    const output = await planCli(file, '--run');
    await recordLatestHistory(fixture.server.client, WorkflowTypes.planRun, fixture.taskQueue, 'plan-run');

    expect(output).toContain('planned: update schedule refit-planned');
    const diffLines = output.split('\n').filter((line) => /^[-+] /.test(line));
    // The schedule Temporal runs (cron, policy) and the definition it carries, each changed line once.
    expect(diffLines).toEqual([
      '-  cron: 0 0 * * 0',
      '+  cron: 30 4 * * 1',
      '-  overlap_policy: skip',
      '+  overlap_policy: buffer_one',
      '-    cron: 0 0 * * 0',
      '+    cron: 30 4 * * 1',
      '-    overlap_policy: skip',
      '+    overlap_policy: buffer_one',
      '-      threshold: "0.65"',
      '+      threshold: "0.7"',
    ]);
    expect(output).toContain('1. secrets: git_token found and in scope');
    expect(output).toContain(`2. clone ${changed.action.build_spec.git_uri} at main: commit ${fixture.commit}`);
    expect(output).toContain('4. deploy if f1_score is above 0.7');
    expect(output).toMatch(/5\. deploy: start serving variation "default" of plan with the new build \(1 pod\(s\) × 1 CPU, 1Gi\); nothing serves it now/);
    expect(output).toContain('nothing was changed');

    // Nothing changed: the schedule is as it was, and nothing was built or deployed.
    const after = await schedule.describe();
    expect(after.info.lastUpdatedAt).toEqual(before.info.lastUpdatedAt);
    expect((after.action.args as [{ automation: unknown }])[0].automation).toEqual(registered);
    const target = new LocalDeploymentTarget({
      deploymentsRoot: path.join(fixture.home, 'deployments'),
      sdkPythonPath: path.join(packageRoot(), 'sdk', 'python'),
      secrets: null as never,
    });
    expect(await target.status('plan', '')).toBeUndefined();
    expect((await refit.history('planned')).length).toBe(0);
  });

  it('names every secret a run would not get, before the run, and exits 1', async () => {
    const needy = fixture.automation((input) => {
      input.name = 'needy';
      input.action.build_spec.env_vars = ['API_KEY=secret:scoring_api_key'];
      input.action.deployment_spec.env_vars = ['DB_PASSWORD=secret:db_password'];
    });
    const file = path.join(fixture.home, 'needy.yaml');
    writeFileSync(file, toYaml(needy));
    const failed = await planCli(file, '--run').then(
      () => undefined,
      (err: { code: number; stdout: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toMatch(
      /1\. secrets: 2 problem\(s\), the run would fail: build_spec\.env_vars \(API_KEY\): secret "scoring_api_key" is not in .*\(refit secrets set scoring_api_key\); deployment_spec\.env_vars \(DB_PASSWORD\): secret "db_password" is not in/,
    );
    expect(failed?.stdout).toContain(`2. clone ${needy.action.build_spec.git_uri} at main: commit ${fixture.commit}`);
  });

  it('says a registered, unchanged definition is unchanged', async () => {
    const same = fixture.automation((input) => {
      input.name = 'planned';
      input.trigger = { type: 'ScheduledTrigger', cron: '0 0 * * 0' };
    });
    const file = path.join(fixture.home, 'same.yaml');
    writeFileSync(file, toYaml(same));
    expect(await planCli(file)).toContain('planned: unchanged schedule refit-planned');
  });
});

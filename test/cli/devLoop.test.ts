// The everyday commands after the demo, as a user types them, against a real worker and Temporal server:
// names that are almost right, paused automations, who a rollback is recorded as, and build logs by automation.
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalDeploymentTarget } from '../../activities/deploy/local/localTarget.js';
import { RefitClient } from '../../client/refitClient.js';
import { stillServing } from '../../devstack/stillServing.js';
import { packageRoot } from '../../platform/paths.js';
import type { BuildDeployResult } from '../../shared/runTypes.js';
import { startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { readRunState } from '../harness/runState.js';

const exec = promisify(execFile);

describe('the dev loop', () => {
  let fixture: Fixture;
  let refit: RefitClient;
  const builds: string[] = [];
  beforeAll(async () => {
    fixture = await startFixture('devloop');
    refit = new RefitClient(fixture.server.client, fixture.taskQueue);
    await refit.register([
      fixture.automation((input) => {
        input.name = 'nightly-churn';
        input.trigger = { type: 'ScheduledTrigger', cron: '0 2 * * *' };
      }),
    ]);
    for (let run = 0; run < 2; run++) builds.push(((await (await refit.run('nightly-churn')).result()) as BuildDeployResult).build_id);
  }, 600_000);
  afterAll(async () => {
    await refit?.delete('nightly-churn').catch(() => undefined);
    await fixture?.close();
  });

  const refitCli = (...args: string[]) =>
    exec(process.execPath, [path.join(packageRoot(), 'dist', 'client', 'cli.js'), ...args], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: readRunState().address,
        REFIT_TASK_QUEUE: fixture.taskQueue,
        REFIT_HOME: fixture.home,
        NO_COLOR: '1',
        REFIT_USER: '',
      },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  it('suggests the registered name for a near miss, in every command that takes one', async () => {
    for (const command of [
      ['describe', 'nightly-churm'],
      ['run', 'nightly-churm'],
      ['pause', 'nightly-churm'],
      ['scale-status', 'nightly-churm'],
    ]) {
      const { code, stderr } = await refitCli(...command);
      expect({ command: command[0], code, stderr: stderr.trim() }).toEqual({
        command: command[0],
        code: 1,
        stderr: 'refit: no automation "nightly-churm" is registered; did you mean "nightly-churn"? (`refit list` shows what is)',
      });
    }
  });

  it('shows no next run for a paused automation', async () => {
    await refit.pause('nightly-churn', 'maintenance');
    try {
      const described = await refitCli('describe', 'nightly-churn');
      expect(described.stdout).toMatch(/next runs +none while paused/);
      const listed = await refitCli('list', '--json');
      expect(JSON.parse(listed.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'nightly-churn', paused: true, nextRuns: [] })]));
    } finally {
      await refit.resume('nightly-churn');
    }
    expect((await refitCli('describe', 'nightly-churn')).stdout).not.toMatch(/none while paused/);
  });

  it('prints the latest build log of an automation, and a build log by build id', async () => {
    const latest = await refitCli('logs', 'nightly-churn');
    expect(latest).toMatchObject({ code: 0, stderr: expect.stringContaining(`the latest build of nightly-churn: ${builds[1]}`) });
    expect(latest.stdout.length).toBeGreaterThan(100);
    expect((await refitCli('logs', builds[0]!)).code).toBe(0);
    const missing = await refitCli('logs', 'no-such-thing');
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/^refit: no build log of no-such-thing on this machine/) });
  });

  it('records the operating-system user as who rolled back when --by and REFIT_USER are not given', async () => {
    const { code, stdout } = await refitCli('rollback', 'nightly-churn', '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ by: os.userInfo().username, rolled_back: [{ from: builds[1], to: builds[0] }] });
  });

  it('points a failed build to its log', async () => {
    await refit.register([
      fixture.automation((input) => {
        input.name = 'broken-churn';
        input.action.build_spec.env_vars = ['TRAINING_FRACTION=most'];
      }),
    ]);
    try {
      const { code, stderr } = await refitCli('run', 'broken-churn', '--wait');
      expect(code).toBe(1);
      expect(stderr).toMatch(/run failed after .*TRAINING_FRACTION='most' is not a number/s);
      expect(stderr).toMatch(/the build's log: refit logs devloop-[0-9a-f]{12}\n/);
      // The step that failed is the one marked failed, whatever the polling saw last.
      expect(stderr).toContain('✖ building (dependencies, tests, training): failed');
      expect(stderr).not.toMatch(/✖ (cloning|starting|reading)/);
    } finally {
      await refit.delete('broken-churn');
    }
  });

  it('lists what still serves, as `refit dev` says on exit', async () => {
    const lines = await stillServing(path.join(fixture.home, 'deployments'), path.join(packageRoot(), 'sdk', 'python'));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^devloop at http://127\\.0\\.0\\.1:\\d+: variation default \\(build ${builds[0]}\\)$`))]);
  });

  it('undeploys what an automation serves, as a recorded run, and says when nothing serves', async () => {
    const target = new LocalDeploymentTarget({
      deploymentsRoot: path.join(fixture.home, 'deployments'),
      sdkPythonPath: path.join(packageRoot(), 'sdk', 'python'),
      secrets: null as never,
    });
    const before = await target.status('devloop', '');
    expect(before?.variations.default?.buildId).toBe(builds[0]);
    const url = before!.url!;
    const { code, stdout } = await refitCli('undeploy', 'nightly-churn');
    expect(code).toBe(0);
    expect(stdout).toContain(`stopped variation default of devloop (build ${builds[0]}) in the default environment`);
    expect(stdout).toContain('its schedule still runs');
    expect(Object.keys((await target.status('devloop', ''))?.variations ?? {})).toEqual([]);
    await expect(fetch(`${url}/v2/health/ready`)).rejects.toThrow();
    const again = await refitCli('undeploy', 'devloop');
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('nothing of devloop serves in the default environment') });
    const runs = await refit.history('nightly-churn', 1);
    expect(runs.length).toBe(1);
  });

  it('explains that secret values come from stdin, and validates numbers', async () => {
    const secret = await refitCli('secrets', 'set', 'git_token', 'ghp_abc');
    expect(secret.code).toBe(2);
    expect(secret.stderr).toMatch(/^error: refit secrets set reads the value from stdin, not from the command line/);
    expect(secret.stderr + secret.stdout).not.toContain('stored');
    const limit = await refitCli('history', '--limit', 'ten');
    expect(limit).toMatchObject({ code: 2, stderr: expect.stringContaining('--limit takes a whole number from 1 to 1000, not "ten"') });
  });
});

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { recordLatestHistory } from '../harness/recordHistory.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DuckDBInstance } from '@duckdb/node-api';
import { RefitClient, type RunRecord } from '../../client/refitClient.js';
import { scheduleIdOf } from '../../client/schedules.js';
import { packageRoot } from '../../platform/paths.js';
import { WorkflowTypes } from '../../shared/names.js';
import type { MetricTriggerCheckResult } from '../../shared/operations.js';
import { toYaml } from '../../spec/yaml.js';
import { startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { readRunState } from '../harness/runState.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('schedules start real runs', () => {
  let fixture: Fixture;
  let refit: RefitClient;
  beforeAll(async () => {
    fixture = await startFixture('sched');
    refit = new RefitClient(fixture.server.client, fixture.taskQueue);
  });
  afterAll(async () => {
    for (const name of ['every-few-seconds', 'backfilled', 'drift']) await refit.delete(name).catch(() => undefined);
    await fixture?.close();
  });

  /** Runs of an automation, oldest first, once visibility (eventually consistent) lists at least `count`. */
  const runsOf = async (name: string, count: number, timeoutMs = 60_000): Promise<RunRecord[]> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const runs = (await refit.history(name, 100)).reverse();
      if (runs.length >= count || Date.now() > deadline) return runs;
      await sleep(500);
    }
  };

  it('fires an interval schedule, never overlapping runs (skip), stops on pause and starts again on resume', async () => {
    const automation = fixture.automation((input) => {
      input.name = 'every-few-seconds';
      input.trigger = { type: 'ScheduledTrigger', interval: '2s' };
    });
    await refit.register([automation]);
    // Two runs prove it fires again and again; how soon depends on how fast builds go on a busy machine.
    const first = await runsOf('every-few-seconds', 2, 240_000);
    expect(first.length).toBeGreaterThanOrEqual(2);
    await refit.pause('every-few-seconds');
    await sleep(1500); // a run due just before the pause may still start
    const paused = (await refit.history('every-few-seconds', 100)).length;
    await sleep(6000);
    expect((await refit.history('every-few-seconds', 100)).length).toBe(paused);
    await refit.resume('every-few-seconds');
    const resumed = await runsOf('every-few-seconds', paused + 1, 240_000);
    expect(resumed.length).toBeGreaterThan(paused);
    await refit.pause('every-few-seconds');
    // Builds take longer than the interval: with the skip policy no two runs were ever running at once.
    const description = await fixture.server.client.schedule.getHandle(scheduleIdOf('every-few-seconds')).describe();
    expect(description.info.numActionsSkippedOverlap).toBeGreaterThan(0);
    const closed = (await refit.history('every-few-seconds', 100)).filter((record) => record.closedAt).reverse();
    for (let index = 1; index < closed.length; index++)
      expect(closed[index]!.startedAt.getTime()).toBeGreaterThanOrEqual(closed[index - 1]!.closedAt!.getTime());
    expect(closed.every((record) => record.status === 'COMPLETED' && record.deployed === true)).toBe(true);
  }, 600_000);

  it('backfills the runs of a past window, one after another', async () => {
    const automation = fixture.automation((input) => {
      input.name = 'backfilled';
      input.trigger = { type: 'ScheduledTrigger', cron: '0 * * * *' }; // hourly
    });
    await refit.register([automation]);
    await refit.backfill('backfilled', new Date('2026-11-01T00:30:00Z'), new Date('2026-11-01T03:30:00Z'));
    const runs = await runsOf('backfilled', 3, 240_000);
    expect(runs).toHaveLength(3); // 01:00, 02:00 and 03:00
    const ids = runs.map((record) => record.workflowId).sort();
    expect(ids).toEqual(['2026-11-01T01:00:00Z', '2026-11-01T02:00:00Z', '2026-11-01T03:00:00Z'].map((time) => `${scheduleIdOf('backfilled')}-${time}`));
  }, 300_000);

  it('starts a build when the analytics metric crosses its threshold, and not otherwise, each check a run of its own', async () => {
    const database = path.join(fixture.home, 'analytics.duckdb');
    const setPrecision = async (value: number) => {
      const instance = await DuckDBInstance.create(database);
      const connection = await instance.connect();
      await connection.run('CREATE TABLE IF NOT EXISTS daily_precision (day DATE, precision DOUBLE)');
      await connection.run('DELETE FROM daily_precision');
      await connection.run(`INSERT INTO daily_precision VALUES ('2026-11-26', ${value})`);
      connection.closeSync();
      instance.closeSync();
    };
    await setPrecision(0.95);
    const automation = fixture.automation((input) => {
      input.name = 'drift';
      input.trigger = {
        type: 'MetricBasedTrigger',
        name: 'precision_drop',
        metric: { sql_query: 'SELECT avg(precision) FROM daily_precision' },
        direction: 'BELOW',
        threshold: 0.9,
        override_cron: '0 0 1 1 *', // rarely: the test triggers the checks itself
      };
    });
    await refit.register([automation]);
    const schedule = fixture.server.client.schedule.getHandle(scheduleIdOf('drift'));
    const check = async (): Promise<MetricTriggerCheckResult> => {
      const before = (await schedule.describe()).info.recentActions.length;
      await schedule.trigger();
      for (;;) {
        const actions = (await schedule.describe()).info.recentActions;
        if (actions.length > before) return fixture.server.client.workflow.getHandle(actions.at(-1)!.action.workflow.workflowId).result();
        await sleep(200);
      }
    };
    const calm = await check();
    expect(calm).toMatchObject({ fired: false, value: 0.95, threshold: 0.9, direction: 'BELOW' });
    expect(calm.reason).toBe('precision_drop is 0.95, not below 0.9: no build');

    await setPrecision(0.8);
    const drifted = await check();
    expect(drifted).toMatchObject({ fired: true, value: 0.8 });
    const build = await fixture.server.client.workflow.getHandle(drifted.build_workflow_id!).result();
    expect(build).toMatchObject({ deployed: true, trigger: { kind: 'metric', detail: 'precision_drop = 0.8' } });
    await recordLatestHistory(fixture.server.client, WorkflowTypes.metricTriggerCheck, fixture.taskQueue, 'metric-trigger-check');
    const checks = [];
    for await (const execution of fixture.server.client.workflow.list({
      query: `WorkflowType = '${WorkflowTypes.metricTriggerCheck}' AND RefitAutomation = 'drift'`,
    }))
      checks.push(execution);
    expect(checks.length).toBeGreaterThanOrEqual(1);
  });

  const refitCli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [path.join(packageRoot(), 'dist', 'client', 'cli.js'), ...args], {
        env: { ...process.env, TEMPORAL_ADDRESS: readRunState().address, REFIT_TASK_QUEUE: fixture.taskQueue, NO_COLOR: '1' },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      return err as { code: number; stdout: string; stderr: string };
    }
  };

  it('runs an automation now with `refit run --wait --json`, and says what happened in its exit code', async () => {
    const deployed = await refitCli('run', 'backfilled', '--wait', '--json');
    expect(deployed.code).toBe(0);
    expect(JSON.parse(deployed.stdout)).toMatchObject({
      status: 'completed',
      deployed: true,
      reason: expect.stringMatching(/^deployed build sched-/),
      build_id: expect.stringMatching(/^sched-/),
      git_commit: fixture.commit,
      condition: { passed: true, metric_name: 'f1_score', threshold: 0.65 },
    });
    const file = path.join(fixture.home, 'strict.yaml');

    writeFileSync(
      file,
      toYaml(
        fixture.automation((input) => {
          input.name = 'strict';
          input.action.deployment_condition.threshold = '0.999';
        }),
      ),
    );
    const missed = await refitCli('run', 'strict', '--file', file, '--wait', '--json', '--expect-deploy');
    expect(missed.code).toBe(10);
    expect(JSON.parse(missed.stdout)).toMatchObject({
      status: 'completed',
      deployed: false,
      reason: expect.stringMatching(/is not above the threshold 0\.999$/),
    });
    const failing = await refitCli('run', 'strict', '--file', path.join(fixture.home, 'absent.yaml'), '--wait');
    expect(failing.code).toBe(1);
  });

  it('lists real runs with their decisions in `refit history --json`', async () => {
    const { stdout } = await refitCli('history', 'backfilled', '--json');
    const runs = JSON.parse(stdout) as RunRecord[];
    expect(runs.length).toBeGreaterThanOrEqual(3);
    for (const record of runs) {
      expect(record).toMatchObject({ automation: 'backfilled', status: 'COMPLETED', deployed: true, condition: 'passed', commit: fixture.commit });
      expect(record.reason).toMatch(/^deployed build sched-[0-9a-f]{12} \(variation default\): f1_score 0\.98\d+ is above the threshold 0\.65$/);
      expect(record.buildId).toMatch(/^sched-[0-9a-f]{12}$/);
    }
  });
});

// What a run tells in the Temporal Web UI: its static summary and details (set at start by `refit run` and by the
// schedule's action), a summary per activity in its history, and current details that end with the outcome. Read
// here through the same APIs the Web UI reads (describe, the history's user metadata, the metadata query); and
// `refit describe` lists manual runs, which the schedule itself does not know.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { RefitClient } from '../../client/refitClient.js';
import { scheduleIdOf } from '../../client/schedules.js';
import { packageRoot } from '../../platform/paths.js';
import type { BuildDeployResult } from '../../shared/runTypes.js';
import { devLogLine, type LogEntry } from '../../devstack/devLog.js';
import { startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { activitySummaries } from '../../workflows/runSummaries.js';
import { readRunState } from '../harness/runState.js';

const run = promisify(execFile);
const text = (payload: temporal.api.common.v1.IPayload | null | undefined) => (payload ? defaultPayloadConverter.fromPayload<string>(payload) : undefined);

describe('a run in the Web UI', () => {
  let fixture: Fixture;
  let refit: RefitClient;
  let workflowId: string;
  let result: BuildDeployResult;
  beforeAll(async () => {
    fixture = await startFixture('summaries');
    refit = new RefitClient(fixture.server.client, fixture.taskQueue);
    await refit.register([fixture.automation((input) => (input.name = 'summarised'))]);
    const handle = await refit.run('summarised');
    workflowId = handle.workflowId;
    result = (await handle.result()) as BuildDeployResult;
  }, 300_000);
  afterAll(async () => {
    await refit?.delete('summarised').catch(() => undefined);
    await fixture?.close();
  });

  it('carries a summary and details from its start, and its outcome as current details', async () => {
    expect(result.deployed).toBe(true);
    const handle = fixture.server.client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    const gitUri = `${fixture.git.url}/models.git#models/breast_cancer`;
    expect(await description.staticSummary()).toBe(`manual run of summarised: build summaries from ${gitUri} @ main`);
    expect(await description.staticDetails()).toMatch(/\*\*condition\*\* deploys when f1_score is above 0\.65/);
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(
      new RegExp(`^deployed ${result.build_id} @${fixture.commit.slice(0, 7)} \\(f1_score 0\\.\\d{1,4} is above the threshold 0\\.65\\)$`),
    );
  });

  it('names what each activity does', async () => {
    const history = await fixture.server.client.workflow.getHandle(workflowId).fetchHistory();
    const summaries = (history.events ?? [])
      .filter((event) => event.activityTaskScheduledEventAttributes)
      .map((event) => [event.activityTaskScheduledEventAttributes!.activityType!.name, text(event.userMetadata?.summary)]);
    const gitUri = `${fixture.git.url}/models.git#models/breast_cancer`;
    expect(summaries).toEqual(
      expect.arrayContaining([
        ['cloneModelRepository', `clone ${gitUri} @ main`],
        ['buildModel', `build ${result.build_id} @${fixture.commit.slice(0, 7)}: dependencies, tests, training`],
      ]),
    );
    // The build returned the metrics it logged, the condition's among them, and decided the static threshold
    // with them: no step of its own reads them or checks it.
    expect(summaries.map(([type]) => type)).not.toContain('collectMetrics');
    expect(summaries.map(([type]) => type)).not.toContain('checkDeploymentCondition');
  });

  it('names what a condition step checks, when the run takes one', () => {
    const sql = 'SELECT avg(score) FROM inference_logs WHERE ts > now() - INTERVAL 7 DAY AND model_id = 1';
    expect(activitySummaries.condition({ type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' })).toBe('check f1_score > 0.65');
    expect(activitySummaries.condition({ type: 'BuildMetric', metric_name: 'f1_score', direction: 'BELOW', threshold: sql })).toBe(
      'check f1_score < the SQL threshold',
    );
    expect(activitySummaries.condition({ type: 'DeployedBuildMetric', metric_name: 'f1_score', direction: 'ABOVE' })).toBe(
      "check f1_score > the serving build's (champion/challenger)",
    );
  });

  it('logs one line with its outcome, which refit dev prints as it is and nothing of the SDK warnings but a line', () => {
    const outcome = (globalThis.refitCapturedLogs ?? []).find(
      (entry) => (entry.meta as { refitOutcome?: string } | undefined)?.refitOutcome && entry.message.startsWith('summarised: '),
    );
    expect(outcome).toMatchObject({ level: 'INFO', message: `summarised: ${result.reason}`, meta: { refitOutcome: 'deployed', buildId: result.build_id } });
    expect(devLogLine(outcome as LogEntry)).toBe(`✔ summarised: ${result.reason}`);
    const warning: LogEntry = {
      level: 'WARN',
      message: 'Activity failed',
      meta: { activityType: 'buildModel', error: { message: 'tests failed: 2 of 5\n    at runBuild (/x.js:1:2)\n    at …' } },
    };
    expect(devLogLine(warning)).toBe('warn: Activity failed (buildModel): tests failed: 2 of 5');
    expect(devLogLine({ level: 'INFO', message: 'Worker state changed' })).toBeUndefined();
  });

  it("gives the schedule's runs a summary too, and refit describe lists manual runs", async () => {
    const schedule = await fixture.server.client.schedule.getHandle(scheduleIdOf('summarised')).describe();
    expect(schedule.action).toMatchObject({ staticSummary: expect.stringMatching(/^schedule run of summarised: build summaries from /) });
    const { stdout } = await run(process.execPath, [path.join(packageRoot(), 'dist', 'client', 'cli.js'), 'describe', 'summarised'], {
      env: { ...process.env, TEMPORAL_ADDRESS: readRunState().address, REFIT_TASK_QUEUE: fixture.taskQueue, NO_COLOR: '1' },
    });
    expect(stdout).toMatch(new RegExp(`recent runs +\\S+ \\S+ ${workflowId} completed, deployed`));
  });
});

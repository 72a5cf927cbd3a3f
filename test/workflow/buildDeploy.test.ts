import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalDeploymentTarget } from '../../activities/deploy/local/localTarget.js';
import { packageRoot } from '../../platform/paths.js';
import { SearchAttributeKeys } from '../../shared/names.js';
import { GOOD_F1, historyText, POOR, POOR_F1, predict, startFixture, TOKEN, type Fixture } from '../harness/buildDeployFixture.js';
import { recordHistory } from '../harness/recordHistory.js';
import { capturedLogs } from '../harness/temporal.js';

describe("BuildDeploy runs the seed's automation end to end on the real dev server", () => {
  let fixture: Fixture;
  let firstWorkflowId: string;
  let firstBuild: string;
  beforeAll(async () => {
    fixture = await startFixture('seed');
  });
  afterAll(async () => fixture?.close());

  it('clones with the token, builds, runs the tests, reads f1_score, passes 0.65 and deploys a model that answers', async () => {
    const automation = fixture.automation((input) => {
      input.trigger = { type: 'ScheduledTrigger', cron: '0 0 * * 0' };
      input.action.type = 'QwakBuildDeploy';
      Object.assign(input.action.build_spec, { git_branch: 'main', main_dir: 'main', tags: ['prod'], env_vars: ['key1=val1', 'key2=val2', 'key3=val3'] });
      Object.assign(input.action.deployment_spec, { variation_name: 'B' });
    });
    firstWorkflowId = `seed-first-${fixture.taskQueue}`;
    const result = await fixture.run(automation, firstWorkflowId);
    // seed-deployed.json is the same run as recorded before builds returned their metrics (a collectMetrics step), and
    // seed-deployed-metrics-with-build.json before they decided a static threshold (a checkDeploymentCondition step).
    await recordHistory(fixture.server.client, firstWorkflowId, 'seed-deployed-decided-in-build');
    firstBuild = result.build_id;
    expect(result).toMatchObject({
      step: 'finished',
      deployed: true,
      git_commit: fixture.commit,
      metrics: { f1_score: GOOD_F1 },
      condition: { passed: true, metric_name: 'f1_score', value: GOOD_F1, direction: 'ABOVE', threshold: 0.65, threshold_source: 'static' },
      build: { tests: 'passed', tags: ['prod'] },
      deployments: [{ environment: '', variation: 'B', build_id: result.build_id, changed: true }],
    });
    expect(result.reason).toBe(`deployed build ${result.build_id} (variation B): f1_score ${GOOD_F1} is above the threshold 0.65`);

    const answer = await predict(result.deployments[0]!.url!, 'seed');
    expect(answer).toEqual({ status: 200, data: [0, 1], variation: 'B', build: result.build_id });

    // Found and read in the Web UI: search attributes and memo.
    const description = await fixture.server.client.workflow.getHandle(firstWorkflowId).describe();
    expect(description.typedSearchAttributes.get(SearchAttributeKeys.deployed)).toBe(true);
    expect(description.typedSearchAttributes.get(SearchAttributeKeys.gitCommit)).toBe(fixture.commit);
    expect(description.typedSearchAttributes.get(SearchAttributeKeys.conditionOutcome)).toBe('passed');
    expect(description.typedSearchAttributes.get(SearchAttributeKeys.variation)).toBe('B');
    expect((description.memo as { result?: { deployed?: boolean } } | undefined)?.result?.deployed).toBe(true);
  });

  it('keeps the token out of the history, the logs, the build log and the clone', async () => {
    const history = await historyText(fixture, firstWorkflowId);
    expect(history).toContain('git_token'); // the secret's name travels, its value never
    expect(history).not.toContain(TOKEN);
    expect(capturedLogs()).not.toContain(TOKEN);
    const buildDir = path.join(fixture.home, 'builds', firstBuild);
    expect(readFileSync(path.join(buildDir, 'build.log'), 'utf8')).not.toContain(TOKEN);
    expect(readFileSync(path.join(buildDir, 'src', '.git', 'config'), 'utf8')).not.toContain(TOKEN);
    const encoded = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
    expect(history).not.toContain(encoded);
    expect(fixture.git.requests.every((request) => request.authorized || request.method === 'GET')).toBe(true);
  });

  it('does not deploy a build that misses its threshold, says why, and leaves the serving build alone', async () => {
    const automation = fixture.automation((input) => {
      input.action.build_spec.env_vars = POOR;
      input.action.deployment_condition.threshold = '0.95';
      input.action.deployment_spec.variation_name = 'B';
    });
    const workflowId = `missed-${fixture.taskQueue}`;
    const result = await fixture.run(automation, workflowId);
    await recordHistory(fixture.server.client, workflowId, 'threshold-missed');
    expect(result).toMatchObject({ step: 'finished', deployed: false, deployments: [], condition: { passed: false, value: POOR_F1, threshold: 0.95 } });
    expect(result.reason).toBe(`not deployed: f1_score ${POOR_F1} is not above the threshold 0.95`);
    const target = new LocalDeploymentTarget({
      deploymentsRoot: path.join(fixture.home, 'deployments'),
      sdkPythonPath: path.join(packageRoot(), 'sdk', 'python'),
      secrets: null as never,
    });
    const serving = await target.status('seed', '');
    expect(serving?.variations.B?.buildId).toBe(firstBuild);
    expect((await predict(serving!.url!, 'seed')).build).toBe(firstBuild);
  });
});

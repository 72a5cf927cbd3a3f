import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import path from 'node:path';
import { ErrorTypes } from '../../shared/errors.js';
import { GOOD_F1, POOR, POOR_F1, startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { recordHistory } from '../harness/recordHistory.js';
import { activityAttempts } from '../harness/runHistory.js';
import { startRecordingServer, type RecordingServer } from '../harness/recordingServer.js';

describe('champion/challenger and notifications', () => {
  let fixture: Fixture;
  let hooks: RecordingServer;
  beforeAll(async () => {
    hooks = await startRecordingServer();
    fixture = await startFixture('champion');
    const secrets = new LocalSecretStore(path.join(fixture.home, 'secrets'));
    await secrets.set('hook_auth', 'Bearer hook-secret-1');
    await secrets.set('slack_hook', `${hooks.url}/slack`);
  });
  afterAll(async () => {
    await fixture?.close();
    await hooks?.stop();
  });

  const challenger = (quality: 'good' | 'poor', extra: (input: Record<string, any>) => void = () => undefined) =>
    fixture.automation((input) => {
      input.action.deployment_condition = { type: 'DeployedBuildMetric', metric_name: 'f1_score', direction: 'ABOVE' };
      if (quality === 'poor') input.action.build_spec.env_vars = POOR;
      input.on_success = {
        type: 'CustomWebhook',
        url: `${hooks.url}/success`,
        headers: { Authorization: { secret: 'hook_auth' } },
        data: '{"automation": "{{automation}}", "outcome": "{{outcome}}", "build": "{{build_id}}", "run": "{{run_url}}"}',
      };
      input.on_error = { type: 'CustomWebhook', url: `${hooks.url}/error` };
      extra(input);
    });

  let champion: string;

  it('deploys the first build of a model, which has no champion yet, and sends one on_success', async () => {
    const result = await fixture.run(challenger('poor'));
    expect(result).toMatchObject({ deployed: true, condition: { passed: true, value: POOR_F1, threshold_source: 'serving_build' } });
    expect(result.condition!.reason).toMatch(/no build of this model is serving yet, so the first build passes/);
    champion = result.build_id;
    const received = hooks.to('/success');
    expect(received).toHaveLength(1);
    expect(received[0]!.headers.authorization).toBe('Bearer hook-secret-1');
    expect(received[0]!.headers['idempotency-key']).toMatch(/:deployed$/);
    expect(JSON.parse(received[0]!.body)).toMatchObject({
      automation: 'champion-automation',
      outcome: 'deployed',
      build: result.build_id,
      run: expect.stringContaining('champion-'),
    });
    expect(result.notifications).toEqual([
      { event: 'on_success', delivered: true, detail: expect.stringMatching(/^CustomWebhook to http:\/\/127\.0\.0\.1:\d+: HTTP 200$/) },
    ]);
  });

  it('deploys a better challenger', async () => {
    const result = await fixture.run(challenger('good'));
    expect(result).toMatchObject({ deployed: true, condition: { passed: true, value: GOOD_F1, threshold: POOR_F1, serving_build_id: champion } });
    expect(result.condition!.reason).toBe(`f1_score ${GOOD_F1} beats the serving build ${champion} (${POOR_F1}, higher is better)`);
    expect(result.deployments[0]!.previous_build_id).toBe(champion);
    champion = result.build_id;
    expect(hooks.to('/success')).toHaveLength(2);
  });

  it('does not deploy a worse challenger, and sends no notification', async () => {
    const result = await fixture.run(challenger('poor'));
    expect(result).toMatchObject({
      deployed: false,
      deployments: [],
      condition: { passed: false, value: POOR_F1, threshold: GOOD_F1, serving_build_id: champion },
    });
    expect(result.reason).toBe(`not deployed: f1_score ${POOR_F1} does not beat the serving build ${champion} (${GOOD_F1}, higher is better)`);
    expect(hooks.to('/success')).toHaveLength(2);
    expect(hooks.to('/error')).toHaveLength(0);
  });

  it('sends exactly one on_error when a run fails', async () => {
    const failure = await fixture.runFailing(challenger('good', (input) => (input.action.build_spec.git_branch = 'no-such-branch')));
    await recordHistory(fixture.server.client, failure.workflowId, 'clone-failed-on-error');
    expect(failure.type).toBe(ErrorTypes.GitBranchNotFound);
    expect(failure.message).toMatch(/^cloning failed: cannot clone .* the branch "no-such-branch" does not exist; check git_branch$/);
    const received = hooks.to('/error');
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!.body)).toMatchObject({ automation: 'champion-automation', outcome: 'failed', deployed: false, reason: failure.message });
  });

  it('sends a Slack message to the stored webhook', async () => {
    const result = await fixture.run(challenger('good', (input) => (input.on_success = { type: 'SlackNotification', webhook: { secret: 'slack_hook' } })));
    expect(result.deployed).toBe(false); // the same quality does not beat the champion: ties do not replace it
    const forced = await fixture.run(
      challenger('good', (input) => {
        input.on_success = { type: 'SlackNotification', webhook: { secret: 'slack_hook' } };
        input.action.deployment_condition = { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.5' };
      }),
    );
    expect(forced.deployed).toBe(true);
    const [message] = hooks.to('/slack');
    expect(hooks.to('/slack')).toHaveLength(1);
    const body = JSON.parse(message!.body);
    expect(body.text).toMatch(/Refit: champion-automation \(champion\) deployed: deployed build/);
    expect(body.blocks).toHaveLength(2);
    expect(forced.notifications[0]).toMatchObject({
      event: 'on_success',
      delivered: true,
      detail: expect.stringMatching(/^SlackNotification to \(stored webhook\)/),
    });
  });

  it('records a webhook that stays down, and neither fails nor repeats the deploy', async () => {
    hooks.failing.add('/down');
    const workflowId = `down-${fixture.taskQueue}`;
    const result = await fixture.run(
      challenger('good', (input) => {
        input.on_success = { type: 'CustomWebhook', url: `${hooks.url}/down` };
        input.action.deployment_condition = { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.5' };
      }),
      workflowId,
    );
    expect(result.deployed).toBe(true);
    expect(result.deployments).toHaveLength(1);
    expect(result.notifications).toEqual([
      { event: 'on_success', delivered: false, detail: expect.stringMatching(/^CustomWebhook not delivered: .*answered 500/) },
    ]);
    expect(hooks.to('/down')).toHaveLength(4); // every retry reached it, and the deploy ran once
    await recordHistory(fixture.server.client, workflowId, 'webhook-down');
    expect((await activityAttempts(fixture.server.client, workflowId, 'deployBuild')).scheduled).toBe(1);
  });
});

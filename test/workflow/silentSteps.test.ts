import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { activityAttempts, runHistories } from '../harness/runHistory.js';

// A real model may train, or load, for minutes without printing anything. The workflow's heartbeat
// timeout (30 s) is for noticing dead workers, so the steps must heartbeat while they wait in silence.
describe('steps that are silent for longer than the heartbeat timeout', () => {
  let fixture: Fixture;
  beforeAll(async () => {
    fixture = await startFixture('silent');
  });
  afterAll(async () => fixture?.close());

  it('are not taken for a dead worker: the build and the deploy each finish on their first attempt', async () => {
    const workflowId = `silent-${fixture.taskQueue}`;
    const result = await fixture.run(
      fixture.automation((input) => {
        input.action.build_spec.env_vars = ['TRAINING_DELAY_SECONDS=35'];
        input.action.deployment_spec.env_vars = ['SERVING_START_DELAY_SECONDS=35'];
        input.action.deployment_spec.deployment_process_timeout_limit = 120;
      }),
      workflowId,
    );
    expect(result.deployed).toBe(true);
    // The run's history and its promotion workflow's, where the deploy happens.
    const attempts = async (activity: string) => (await activityAttempts(fixture.server.client, workflowId, activity)).attempts;
    expect(await attempts('buildModel')).toEqual([1]);
    expect(await attempts('deployBuild')).toEqual([1]);
    const events = (await runHistories(fixture.server.client, workflowId)).flatMap((history) => history.events ?? []);
    expect(events.some((event) => event.activityTaskTimedOutEventAttributes)).toBe(false);
  }, 240_000);
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startFixture, type Fixture } from '../harness/buildDeployFixture.js';

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
    const events = (await fixture.server.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const attempts = (activity: string) => {
      const scheduled = new Set(events.filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === activity).map((event) => String(event.eventId)));
      return events.filter((event) => scheduled.has(String(event.activityTaskStartedEventAttributes?.scheduledEventId))).map((event) => event.activityTaskStartedEventAttributes!.attempt);
    };
    expect(attempts('buildModel')).toEqual([1]);
    expect(attempts('deployBuild')).toEqual([1]);
    expect(events.some((event) => event.activityTaskTimedOutEventAttributes)).toBe(false);
  }, 240_000);
});

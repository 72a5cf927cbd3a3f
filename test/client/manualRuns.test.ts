// `refit run` honours the automation's overlap policy as its schedule would, unless --force.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RefitClient, RunRefusedError } from '../../client/refitClient.js';
import { startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { waitForStatus } from '../harness/runStatus.js';

describe('manual runs and the overlap policy', () => {
  let fixture: Fixture;
  let refit: RefitClient;
  beforeAll(async () => {
    fixture = await startFixture('manual');
    refit = new RefitClient(fixture.server.client, fixture.taskQueue);
  });
  afterAll(async () => fixture?.close());

  const slow = (name: string, overlap: string) =>
    fixture.automation((input) => {
      input.name = name;
      input.trigger = { type: 'ScheduledTrigger', cron: '0 0 1 1 *', overlap_policy: overlap };
      input.action.build_spec.env_vars = ['TRAINING_DELAY_SECONDS=8'];
    });

  /** Waits until visibility lists the run as running, as a second `refit run` would look for it. */
  async function listedAsRunning(name: string, workflowId: string): Promise<void> {
    for (let tries = 0; tries < 100 && !(await refit.runningBuilds(name)).includes(workflowId); tries++)
      await new Promise((resolve) => setTimeout(resolve, 100));
  }

  it('refuses a second run while one is in progress under skip (the default), and starts one with --force', async () => {
    await refit.register([slow('skipper', 'skip')]);
    const first = await refit.run('skipper');
    await waitForStatus(first, (status) => status.step === 'building', 120_000);
    await listedAsRunning('skipper', first.workflowId);
    await expect(refit.run('skipper')).rejects.toThrow(RunRefusedError);
    await expect(refit.run('skipper')).rejects.toThrow(
      /has a run in progress \(.*\) and its overlap policy is skip, so no run was started: .*refit run --force/,
    );
    const forced = await refit.run('skipper', { force: true });
    expect(forced.workflowId).not.toBe(first.workflowId);
    const [one, two] = await Promise.all([first.result(), forced.result()]);
    // Both built; the promotion put them in line, so the model ends with one of them serving.
    expect([one.deployed, two.deployed]).toContain(true);
  });

  it('cancels the run in progress under cancel_other, then starts', async () => {
    await refit.register([slow('canceller', 'cancel_other')]);
    const first = await refit.run('canceller');
    await waitForStatus(first, (status) => status.step === 'building', 120_000);
    await listedAsRunning('canceller', first.workflowId);
    const second = await refit.run('canceller');
    await expect(first.result()).rejects.toThrow();
    expect((await first.describe()).status.name).toBe('CANCELLED');
    expect((await second.result()).deployed).toBe(true);
  });

  it('waits for the run in progress under buffer_one, then starts', async () => {
    await refit.register([slow('bufferer', 'buffer_one')]);
    const first = await refit.run('bufferer');
    await waitForStatus(first, (status) => status.step === 'building', 120_000);
    await listedAsRunning('bufferer', first.workflowId);
    const waited: string[][] = [];
    const second = await refit.run('bufferer', { onWait: (running) => waited.push(running) });
    expect(waited).toEqual([[first.workflowId]]);
    // Its outcome first, so that a failure says why (it failed once in CI, with no reason in the log).
    const outcome = await first.result().then(
      () => 'completed',
      (err: { cause?: { message?: string; cause?: { message?: string } } }) => `failed: ${err.cause?.message} / ${err.cause?.cause?.message}`,
    );
    expect(outcome).toBe('completed');
    expect((await first.describe()).status.name).toBe('COMPLETED');
    await second.result();
  });
});

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registerAutomations, scheduleIdOf } from '../../client/schedules.js';
import { temporalCliPath } from '../../devstack/temporalCli.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { validateAutomation } from '../../spec/validate.js';
import { readRunState } from '../harness/runState.js';
import { connectToTestServer, uniqueTaskQueue } from '../harness/temporal.js';
import { validInput } from '../spec/validTemplate.js';

const run = promisify(execFile);

describe('registering automations as Temporal Schedules', () => {
  let server: Awaited<ReturnType<typeof connectToTestServer>>;
  const taskQueue = uniqueTaskQueue('register');
  const suffix = taskQueue.slice(-8);
  beforeAll(async () => {
    server = await connectToTestServer();
  });
  afterAll(async () => {
    for await (const schedule of server.client.schedule.list())
      if (schedule.scheduleId.endsWith(suffix)) await server.client.schedule.getHandle(schedule.scheduleId).delete();
    await server?.close();
  });

  const automation = (change: (input: Record<string, any>) => void = () => undefined): AutomationModel => {
    const input = validInput();
    input.name = `retrain_my_model-${suffix}`;
    delete (input.action as any).deployment_spec.auto_scale_config;
    change(input);
    const validated = validateAutomation(input);
    if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
    return validated.automation;
  };
  const register = (automations: AutomationModel[], prune = false) => registerAutomations(server.client, automations, { taskQueue, prune });
  const describeSchedule = (name: string) => server.client.schedule.getHandle(scheduleIdOf(name)).describe();
  /** What the real `temporal` CLI prints for a schedule. */
  const temporalDescribe = async (name: string) => {
    const { stdout } = await run(await temporalCliPath(), ['schedule', 'describe', '--schedule-id', scheduleIdOf(name), '--address', readRunState().address]);
    return stdout;
  };

  it("creates a schedule for the seed's weekly cron in UTC, which the temporal CLI shows, and registering again changes nothing", async () => {
    const seed = automation();
    expect(await register([seed])).toEqual([{ name: seed.name, scheduleId: scheduleIdOf(seed.name), change: 'created' }]);
    const shown = await temporalDescribe(seed.name);
    expect(shown).toMatch(/Spec\s+\[\{"second":"0","minute":"0","hour":"0","dayOfMonth":"1-31","month":"1-12","dayOfWeek":"0"\}\]/);
    expect(shown).toMatch(/TimeZoneName\s+UTC/);
    expect(shown).toMatch(/OverlapPolicy\s+Skip/);
    expect(shown).toMatch(/CatchupWindow\s+1h 0m 0s/);
    const before = await describeSchedule(seed.name);
    expect(await register([seed])).toEqual([{ name: seed.name, scheduleId: scheduleIdOf(seed.name), change: 'unchanged' }]);
    const after = await describeSchedule(seed.name);
    expect(after.info.lastUpdatedAt).toEqual(before.info.lastUpdatedAt);
    // The definition travels with the schedule: its action's argument is the automation itself.
    expect((after.action.args as [{ automation: AutomationModel }])[0].automation).toEqual(seed);
    expect(after.memo?.refit_automation).toEqual(JSON.parse(JSON.stringify(seed)));
  });

  it('updates a changed definition in place, and an interval replacing a cron clears the cron', async () => {
    const changed = automation(
      (input) =>
        (input.trigger = { type: 'ScheduledTrigger', cron: '30 4 * * 1-5', timezone: 'Europe/Berlin', overlap_policy: 'buffer_one', catchup_window: '10m' }),
    );
    expect((await register([changed]))[0]!.change).toBe('updated');
    let described = await describeSchedule(changed.name);
    expect(described.spec.calendars).toHaveLength(1);
    expect(described.spec.timezone).toBe('Europe/Berlin');
    expect(described.policies).toMatchObject({ overlap: 'BUFFER_ONE', catchupWindow: 600_000 });
    const interval = automation((input) => (input.trigger = { type: 'ScheduledTrigger', interval: '6h' }));
    expect((await register([interval]))[0]!.change).toBe('updated');
    described = await describeSchedule(interval.name);
    expect(described.spec.calendars ?? []).toEqual([]);
    expect(described.spec.intervals?.map((interval) => interval.every)).toEqual([6 * 3600_000]);
    expect((described.action.args as [{ automation: AutomationModel }])[0].automation.trigger).toEqual(interval.trigger);
  });

  it('pauses the schedule of a disabled automation, and resumes it when enabled again', async () => {
    expect((await register([automation((input) => (input.is_enabled = false))]))[0]!.change).toBe('updated');
    const paused = await describeSchedule(automation().name);
    expect(paused.state).toMatchObject({ paused: true, note: 'disabled in its definition (is_enabled: false)' });
    await register([automation()]);
    expect((await describeSchedule(automation().name)).state.paused).toBe(false);
  });

  it('removes the schedules of automations that are gone with --prune (on its own task queue only), and only then', async () => {
    const other = automation((input) => (input.name = `other-${suffix}`));
    await register([automation(), other]);
    expect((await register([automation()])).map((entry) => entry.change)).toEqual(['unchanged']);
    await describeSchedule(other.name); // still there without prune
    // Prune only sees what list returns, which lags behind creation: wait until it lists the other one.
    for (let tries = 0; tries < 50; tries++) {
      const ids: string[] = [];
      for await (const schedule of server.client.schedule.list()) ids.push(schedule.scheduleId);
      if (ids.includes(scheduleIdOf(other.name))) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // A schedule of another task queue (another Refit setup in the namespace) is never pruned from here.
    const elsewhere = automation((input) => (input.name = `elsewhere-${suffix}`));
    await registerAutomations(server.client, [elsewhere], { taskQueue: `${taskQueue}-other` });
    const pruned = await register([automation()], true);
    expect(pruned).toContainEqual({ name: other.name, scheduleId: scheduleIdOf(other.name), change: 'deleted' });
    expect(pruned.map((entry) => entry.name)).not.toContain(elsewhere.name);
    await expect(describeSchedule(other.name)).rejects.toThrow(/not found/i);
    await describeSchedule(elsewhere.name);
  });
});

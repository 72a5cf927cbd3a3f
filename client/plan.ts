// `refit plan`: what registering definitions would change, without changing it. The schedule of an
// automation is shown as the part of its definition Temporal acts on, so a diff reads as what changes.
import { createTwoFilesPatch } from 'diff';
import { type Client, ScheduleNotFoundError } from './temporalClient.js';
import type { AutomationModel } from '../spec/schema/automation.js';
import { toYaml } from '../spec/yaml.js';
import { desiredSchedule, prunableScheduleIds, SCHEDULE_PREFIX, scheduleIdOf } from './schedules.js';

export interface PlannedChange {
  name: string;
  scheduleId: string;
  change: 'create' | 'update' | 'unchanged' | 'delete';
  /** A unified diff of the registered and the new definition (for updates). */
  diff?: string;
}

/** The schedule Temporal runs for an automation, in the automation's own words. */
function scheduleView(automation: AutomationModel): Record<string, unknown> {
  const { trigger } = automation;
  const when =
    trigger.type === 'ScheduledTrigger'
      ? {
          ...(trigger.cron !== undefined ? { cron: trigger.cron } : { interval: trigger.interval }),
          timezone: trigger.timezone,
          overlap_policy: trigger.overlap_policy,
          catchup_window: trigger.catchup_window,
        }
      : trigger.type === 'MetricBasedTrigger'
        ? { checks: trigger.override_cron, timezone: trigger.timezone, starts: 'metricTriggerCheck' }
        : { only: 'refit run' };
  return { schedule: { ...when, paused: !automation.is_enabled }, definition: automation };
}

export async function planRegistration(
  client: Client,
  automations: AutomationModel[],
  options: { taskQueue: string; prune?: boolean },
): Promise<PlannedChange[]> {
  const plan: PlannedChange[] = [];
  for (const automation of automations) {
    const scheduleId = scheduleIdOf(automation.name);
    let current;
    try {
      current = await client.schedule.getHandle(scheduleId).describe();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
    if (!current) {
      plan.push({
        name: automation.name,
        scheduleId,
        change: 'create',
        diff: createTwoFilesPatch('(none)', scheduleId, '', toYaml(scheduleView(automation)), '', ''),
      });
      continue;
    }
    const desiredHash = (desiredSchedule(automation, options.taskQueue).action.memo as { refit_definition_hash: string }).refit_definition_hash;
    if (current.action.memo?.refit_definition_hash === desiredHash) {
      plan.push({ name: automation.name, scheduleId, change: 'unchanged' });
      continue;
    }
    const registered = (current.action.args as [{ automation: AutomationModel }] | undefined)?.[0]?.automation;
    const before = registered ? toYaml(scheduleView(registered)) : '';
    plan.push({
      name: automation.name,
      scheduleId,
      change: 'update',
      diff: createTwoFilesPatch(`${scheduleId} (registered)`, `${scheduleId} (new)`, before, toYaml(scheduleView(automation)), '', ''),
    });
  }
  if (options.prune) {
    for (const scheduleId of await prunableScheduleIds(client, automations, options.taskQueue)) {
      plan.push({ name: scheduleId.slice(SCHEDULE_PREFIX.length), scheduleId, change: 'delete' });
    }
  }
  return plan;
}

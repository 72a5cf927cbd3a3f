// One Temporal Schedule per automation, created or updated so that registering the same definitions
// again changes nothing. Mind Temporal's ways: creating an existing id fails (so this is describe, then
// create or update); an update replaces the whole spec (a cron that replaces an interval clears it);
// the catch-up window defaults to a year (so it is always set); list is eventually consistent (so
// decisions use describe by id).
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import {
  type Client,
  type ScheduleOptions,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleSpec,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import { SearchAttributeKeys, WorkflowTypes } from '../shared/names.js';
import { RUN_INPUT_VERSION, type BuildDeployInput } from '../shared/runTypes.js';
import { runDetails, runSummary } from '../shared/runSummary.js';
import type { AutomationModel } from '../spec/schema/automation.js';
import { NAMED_INTERVALS } from '../spec/interval.js';

export const SCHEDULE_PREFIX = 'refit-';
export const scheduleIdOf = (name: string): string => `${SCHEDULE_PREFIX}${name}`;

export type RegistrationChange = 'created' | 'updated' | 'unchanged' | 'deleted';

export interface Registration {
  name: string;
  scheduleId: string;
  change: RegistrationChange;
}

const OVERLAP: Record<string, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  buffer_one: ScheduleOverlapPolicy.BUFFER_ONE,
  buffer_all: ScheduleOverlapPolicy.BUFFER_ALL,
  cancel_other: ScheduleOverlapPolicy.CANCEL_OTHER,
  terminate_other: ScheduleOverlapPolicy.TERMINATE_OTHER,
  allow_all: ScheduleOverlapPolicy.ALLOW_ALL,
};

/** "6h", "Daily" → the duration string Temporal takes. */
function duration(interval: string): string {
  return NAMED_INTERVALS[interval as keyof typeof NAMED_INTERVALS] ?? interval;
}

/** What the schedule of an automation should be, all of it, so an update can replace it whole. */
export function desiredSchedule(automation: AutomationModel, taskQueue: string): Omit<ScheduleOptions, 'scheduleId'> {
  const { trigger } = automation;
  let spec: ScheduleSpec = {};
  let workflowType: string = WorkflowTypes.buildDeploy;
  let args: unknown[] = [{ version: RUN_INPUT_VERSION, automation, trigger: { kind: 'schedule' } } satisfies BuildDeployInput];
  let overlap: ScheduleOverlapPolicy = ScheduleOverlapPolicy.SKIP;
  let catchupWindow = '1h';
  if (trigger.type === 'ScheduledTrigger') {
    spec =
      trigger.cron !== undefined ? { cronExpressions: [trigger.cron], timezone: trigger.timezone } : { intervals: [{ every: duration(trigger.interval!) }] };
    overlap = OVERLAP[trigger.overlap_policy]!;
    catchupWindow = duration(trigger.catchup_window);
  } else if (trigger.type === 'MetricBasedTrigger') {
    // The schedule runs the check; the check starts a build only when the metric has crossed.
    spec = { cronExpressions: [trigger.override_cron], timezone: trigger.timezone };
    workflowType = WorkflowTypes.metricTriggerCheck;
    args = [{ automation, taskQueue }];
    catchupWindow = '1m';
  }
  const staticSummary = runSummary(automation, workflowType === WorkflowTypes.metricTriggerCheck ? 'metric check' : 'schedule');
  const staticDetails = runDetails(automation);
  const definitionHash = hashOf({ spec, workflowType, args, overlap, catchupWindow, taskQueue, enabled: automation.is_enabled, staticSummary, staticDetails });
  return {
    spec,
    action: {
      type: 'startWorkflow',
      workflowType,
      // Temporal appends the scheduled time to this id, so a retried start never makes a second run.
      workflowId: scheduleIdOf(automation.name),
      taskQueue,
      args,
      staticSummary,
      staticDetails,
      memo: { refit_definition_hash: definitionHash },
      typedSearchAttributes: [
        { key: SearchAttributeKeys.automation, value: automation.name },
        { key: SearchAttributeKeys.modelId, value: automation.model_id },
      ],
    },
    policies: { overlap, catchupWindow },
    state: { paused: !automation.is_enabled, note: automation.is_enabled ? 'registered by refit' : 'disabled in its definition (is_enabled: false)' },
    memo: { refit_automation: automation },
    typedSearchAttributes: [
      { key: SearchAttributeKeys.automation, value: automation.name },
      { key: SearchAttributeKeys.modelId, value: automation.model_id },
    ],
  };
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/**
 * Creates or updates the schedule of each automation; with `prune`, deletes Refit schedules whose
 * automation is no longer among them. A definition that did not change is left exactly as it is
 * (including a pause made with `refit pause`).
 */
export async function registerAutomations(
  client: Client,
  automations: AutomationModel[],
  options: { taskQueue: string; prune?: boolean },
): Promise<Registration[]> {
  // Each automation is one describe (and maybe one create or update): several in flight at once, as
  // registering a thousand one after another spends its time waiting on round trips.
  const limit = pLimit(REGISTRATION_CONCURRENCY);
  const results = await Promise.all(automations.map((automation) => limit(() => registerOne(client, automation, options.taskQueue))));
  if (options.prune) {
    for (const scheduleId of await prunableScheduleIds(client, automations, options.taskQueue)) {
      await client.schedule.getHandle(scheduleId).delete();
      results.push({ name: scheduleId.slice(SCHEDULE_PREFIX.length), scheduleId, change: 'deleted' });
    }
  }
  return results;
}

/**
 * Refit schedules on `taskQueue` whose automation is not among `automations`. Schedules of other task
 * queues belong to another Refit setup in the same namespace (the demo's, another team's) and are
 * never pruned from here.
 */
export async function prunableScheduleIds(client: Client, automations: AutomationModel[], taskQueue: string): Promise<string[]> {
  const wanted = new Set(automations.map((automation) => scheduleIdOf(automation.name)));
  const prunable: string[] = [];
  for (const scheduleId of await refitScheduleIds(client)) {
    if (wanted.has(scheduleId)) continue;
    const described = await client.schedule
      .getHandle(scheduleId)
      .describe()
      .catch((err: unknown) => {
        if (err instanceof ScheduleNotFoundError) return undefined; // deleted since it was listed
        throw err;
      });
    if (described?.action.type === 'startWorkflow' && described.action.taskQueue === taskQueue) prunable.push(scheduleId);
  }
  return prunable;
}

const REGISTRATION_CONCURRENCY = 8;

async function registerOne(client: Client, automation: AutomationModel, taskQueue: string): Promise<Registration> {
  const scheduleId = scheduleIdOf(automation.name);
  const desired = desiredSchedule(automation, taskQueue);
  const handle = client.schedule.getHandle(scheduleId);
  let current;
  try {
    current = await handle.describe();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  if (!current) {
    await client.schedule.create({
      scheduleId,
      ...desired,
      state: { ...desired.state, triggerImmediately: automation.execute_immediately && automation.is_enabled },
    });
    return { name: automation.name, scheduleId, change: 'created' };
  }
  const desiredHash = (desired.action.memo as { refit_definition_hash: string }).refit_definition_hash;
  if (current.action.memo?.refit_definition_hash === desiredHash) return { name: automation.name, scheduleId, change: 'unchanged' };
  // The schedule's own memo can only be set at creation; the action (with the definition) is replaced.
  const { memo: _onlyAtCreation, ...updatable } = desired;
  await handle.update(() => updatable as ScheduleUpdateOptions);
  return { name: automation.name, scheduleId, change: 'updated' };
}

/** Ids of the schedules Refit made (list is eventually consistent: a schedule made a moment ago may be missing). */
export async function refitScheduleIds(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const schedule of client.schedule.list()) if (schedule.scheduleId.startsWith(SCHEDULE_PREFIX)) ids.push(schedule.scheduleId);
  return ids.sort();
}

// One Temporal Schedule per automation, created or updated so that registering the same definitions
// again changes nothing. Mind Temporal's ways: creating an existing id fails (so a failed create falls
// back to describe, then update); an update replaces the whole spec (a cron that replaces an interval
// clears it); the catch-up window defaults to a year (so it is always set); list is eventually
// consistent, so it only ever saves work: a schedule listed with the definition's hash is left alone, and
// every other one is decided by id (create, or describe and update).
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleOptions,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleSpec,
  type ScheduleUpdateOptions,
} from './temporalClient.js';
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
      { key: SearchAttributeKeys.definitionHash, value: definitionHash },
    ],
  };
}

/** The definition hash a desired schedule carries (in its action's memo and in its own search attributes). */
export function definitionHashOf(desired: Omit<ScheduleOptions, 'scheduleId'>): string {
  return (desired.action.memo as { refit_definition_hash: string }).refit_definition_hash;
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
  // One listing tells which schedules already carry their definition's hash; the rest are one create, or a
  // describe and maybe an update, each: several in flight at once, as registering a thousand one after
  // another spends its time waiting on round trips.
  const listed = await listedDefinitionHashes(client);
  const namespace: NamespaceSupport = { definitionHashAttribute: true };
  const limit = pLimit(REGISTRATION_CONCURRENCY);
  const results = await Promise.all(
    automations.map((automation) => limit(() => registerOne(client, automation, options.taskQueue, listed.get(scheduleIdOf(automation.name)), namespace))),
  );
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

/** Schedule writes in flight at once while registering. */
export const REGISTRATION_CONCURRENCY = 8;

/** What this registration learnt of the namespace: a namespace set up by an older Refit lacks RefitDefinitionHash. */
interface NamespaceSupport {
  definitionHashAttribute: boolean;
}

async function registerOne(
  client: Client,
  automation: AutomationModel,
  taskQueue: string,
  listedHash: string | undefined,
  namespace: NamespaceSupport,
): Promise<Registration> {
  const scheduleId = scheduleIdOf(automation.name);
  const desired = desiredSchedule(automation, taskQueue);
  const desiredHash = definitionHashOf(desired);
  if (listedHash === desiredHash) return { name: automation.name, scheduleId, change: 'unchanged' };
  const handle = client.schedule.getHandle(scheduleId);
  if (listedHash === undefined) {
    const created = await withDefinitionHashAttribute(desired, namespace, (schedule) =>
      client.schedule
        .create({ scheduleId, ...schedule, state: { ...schedule.state, triggerImmediately: automation.execute_immediately && automation.is_enabled } })
        .then(
          () => true,
          (err: unknown) => {
            if (err instanceof ScheduleAlreadyRunning) return false; // made since the listing, or not listed yet
            throw err;
          },
        ),
    );
    if (created) return { name: automation.name, scheduleId, change: 'created' };
  }
  // The SDK's update describes the schedule and hands it over: the decision is made on that description,
  // and an unchanged definition throws it away rather than writing.
  const found = { change: 'updated' as RegistrationChange, lacksHashAttribute: false };
  const decide = (current: ScheduleDescription, schedule: Omit<ScheduleOptions, 'scheduleId'>): ScheduleUpdateOptions => {
    if (current.action.memo?.refit_definition_hash === desiredHash) {
      found.change = 'unchanged';
      found.lacksHashAttribute = !current.typedSearchAttributes.get(SearchAttributeKeys.definitionHash);
      throw new UnchangedDefinition();
    }
    // The schedule's own memo can only be set at creation; the action (with the definition) is replaced.
    const { memo: _onlyAtCreation, ...updatable } = schedule;
    return updatable as ScheduleUpdateOptions;
  };
  try {
    await withDefinitionHashAttribute(desired, namespace, (schedule) => handle.update((current) => decide(current, schedule)));
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return registerOne(client, automation, taskQueue, undefined, namespace); // deleted since listed
    if (!(err instanceof UnchangedDefinition)) throw err;
  }
  if (found.change === 'unchanged' && found.lacksHashAttribute && namespace.definitionHashAttribute)
    await addDefinitionHashAttribute(handle, desired, namespace);
  return { name: automation.name, scheduleId, change: found.change };
}

class UnchangedDefinition extends Error {}

/**
 * A schedule made before schedules carried the definition hash as a search attribute gets it, and nothing
 * else changes (a pause stays), so the next registration needs no describe.
 */
async function addDefinitionHashAttribute(handle: ScheduleHandle, desired: Omit<ScheduleOptions, 'scheduleId'>, namespace: NamespaceSupport): Promise<void> {
  await handle
    .update((previous) => ({ ...previous, typedSearchAttributes: desired.typedSearchAttributes }) as ScheduleUpdateOptions)
    .catch((err: unknown) => {
      if (!isMissingDefinitionHashAttribute(err)) throw err;
      namespace.definitionHashAttribute = false;
    });
}

/**
 * Calls `write` with the desired schedule; where the namespace does not know RefitDefinitionHash (set up
 * before it existed: `refit setup` adds it) it writes without it, so registration still works and later
 * ones describe such schedules instead of reading the hash from the listing.
 */
async function withDefinitionHashAttribute<T>(
  desired: Omit<ScheduleOptions, 'scheduleId'>,
  namespace: NamespaceSupport,
  write: (schedule: Omit<ScheduleOptions, 'scheduleId'>) => Promise<T>,
): Promise<T> {
  if (namespace.definitionHashAttribute) {
    try {
      return await write(desired);
    } catch (err) {
      if (!isMissingDefinitionHashAttribute(err)) throw err;
      namespace.definitionHashAttribute = false;
    }
  }
  const attributes = (desired.typedSearchAttributes as { key: { name: string } }[]).filter(
    (pair) => pair.key.name !== SearchAttributeKeys.definitionHash.name,
  ) as Omit<ScheduleOptions, 'scheduleId'>['typedSearchAttributes'];
  return write({ ...desired, typedSearchAttributes: attributes });
}

/** The server's refusal of a search attribute the namespace does not know (its name is in the gRPC details). */
function isMissingDefinitionHashAttribute(err: unknown): boolean {
  const cause = err instanceof Error ? (err.cause as { details?: unknown } | undefined) : undefined;
  return err instanceof Error && `${err.message} ${String(cause?.details ?? '')}`.includes(SearchAttributeKeys.definitionHash.name);
}

/** Refit schedule id → the definition hash its search attributes carry ('' for none), from one listing (paged). */
export async function listedDefinitionHashes(client: Client): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for await (const schedule of client.schedule.list({ pageSize: 1000 })) {
    if (!schedule.scheduleId.startsWith(SCHEDULE_PREFIX)) continue;
    hashes.set(schedule.scheduleId, schedule.typedSearchAttributes?.get(SearchAttributeKeys.definitionHash) ?? '');
  }
  return hashes;
}

/** Ids of the schedules Refit made (list is eventually consistent: a schedule made a moment ago may be missing). */
export async function refitScheduleIds(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const schedule of client.schedule.list()) if (schedule.scheduleId.startsWith(SCHEDULE_PREFIX)) ids.push(schedule.scheduleId);
  return ids.sort();
}

// Re-registering unchanged automations reads their definition hashes from one ListSchedules instead of
// describing each schedule. Counted in gRPC calls (a count, not a speed) on the run's real dev server.
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, Connection, type ScheduleOptions } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { desiredSchedule, listedDefinitionHashes, registerAutomations, scheduleIdOf } from '../../client/schedules.js';
import { SearchAttributeKeys } from '../../shared/names.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { validateAutomation } from '../../spec/validate.js';
import { readRunState } from '../harness/runState.js';
import { RpcCounter } from '../harness/rpcCounter.js';
import { uniqueTaskQueue } from '../harness/temporal.js';
import { validInput } from '../spec/validTemplate.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;

describe('registering from one listing', () => {
  const taskQueue = uniqueTaskQueue('register-listing');
  const suffix = taskQueue.slice(-8);
  const rpc = new RpcCounter();
  let connection: Connection;
  let client: Client;
  beforeAll(async () => {
    connection = await Connection.connect({ address: readRunState().address, interceptors: rpc.interceptors() });
    client = new Client({ connection, namespace: readRunState().namespace });
  });
  afterAll(async () => {
    for await (const schedule of client.schedule.list())
      if (schedule.scheduleId.endsWith(suffix)) await client.schedule.getHandle(schedule.scheduleId).delete();
    await connection?.close();
  });

  const automation = (name: string): AutomationModel => {
    const input = validInput();
    input.name = `${name}-${suffix}`;
    delete (input.action as any).deployment_spec.auto_scale_config;
    const validated = validateAutomation(input);
    if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
    return validated.automation;
  };
  /** The gRPC calls `work` makes, by method. */
  const calls = async (work: () => Promise<unknown>) => {
    const before = rpc.snapshot();
    await work();
    return rpc.since(before);
  };
  /** Until the (eventually consistent) listing shows each schedule with its definition hash. */
  const untilListed = async (on: Client, automations: AutomationModel[]) => {
    for (let tries = 0; tries < 100; tries++) {
      const listed = await listedDefinitionHashes(on);
      if (automations.every((entry) => listed.get(scheduleIdOf(entry.name)))) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error('the schedules were never listed with their definition hash');
  };

  it('creates new schedules without describing them, and leaves unchanged ones be after one listing', async () => {
    const automations = Array.from({ length: 5 }, (_, index) => automation(`listed-${index}`));
    const first = await calls(() => registerAutomations(client, automations, { taskQueue }));
    expect(first).toMatchObject({ CreateSchedule: 5 });
    expect(first.DescribeSchedule).toBeUndefined();
    await untilListed(client, automations);
    let again: Awaited<ReturnType<typeof registerAutomations>> = [];
    const second = await calls(async () => (again = await registerAutomations(client, automations, { taskQueue })));
    expect(again.map((entry) => entry.change)).toEqual(Array(5).fill('unchanged'));
    expect(Object.keys(second)).toEqual(['ListSchedules']);
    // A changed definition is still noticed: its listed hash differs, so it is described and updated.
    const changed = { ...automations[0]!, is_enabled: false };
    const third = await calls(async () => (again = await registerAutomations(client, [changed], { taskQueue })));
    expect(again[0]!.change).toBe('updated');
    expect(third).toMatchObject({ DescribeSchedule: 1, UpdateSchedule: 1 });
  });

  it('gives a schedule made before the hash was a search attribute that attribute, leaving its pause as it was', async () => {
    const old = automation('older');
    const { typedSearchAttributes, ...desired } = desiredSchedule(old, taskQueue);
    const withoutHash = (typedSearchAttributes as { key: { name: string } }[]).filter((pair) => pair.key.name !== SearchAttributeKeys.definitionHash.name);
    await client.schedule.create({ scheduleId: scheduleIdOf(old.name), ...desired, typedSearchAttributes: withoutHash } as ScheduleOptions);
    await client.schedule.getHandle(scheduleIdOf(old.name)).pause('paused by hand');
    const first = await calls(async () => expect((await registerAutomations(client, [old], { taskQueue }))[0]!.change).toBe('unchanged'));
    expect(first.CreateSchedule ?? 0).toBeLessThanOrEqual(1); // refused as existing when not listed yet: never made twice
    // The scheduler applies an update a moment after accepting it: the listing waits for it.
    await untilListed(client, [old]);
    const described = await client.schedule.getHandle(scheduleIdOf(old.name)).describe();
    expect(described.state).toMatchObject({ paused: true, note: 'paused by hand' });
    expect(described.typedSearchAttributes.get(SearchAttributeKeys.definitionHash)).toBe(
      (desired.action.memo as { refit_definition_hash: string }).refit_definition_hash,
    );
    expect(Object.keys(await calls(() => registerAutomations(client, [old], { taskQueue })))).toEqual(['ListSchedules']);
  });

  it('still registers in a namespace set up before RefitDefinitionHash existed, describing instead', async () => {
    const namespace = `refit-older-${suffix}`;
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    const older = Object.values(SearchAttributeKeys).filter((key) => key.name !== SearchAttributeKeys.definitionHash.name);
    // A new namespace takes a moment to reach every service of the server: retry until it is known.
    for (let tries = 0; ; tries++) {
      try {
        await connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: Object.fromEntries(
            older.map((key) => [key.name, key.type === 'BOOL' ? IndexedValueType.INDEXED_VALUE_TYPE_BOOL : IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
          ),
        });
        break;
      } catch (err) {
        if (tries > 100) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const there = new Client({ connection, namespace });
    const entry = automation('older-namespace');
    try {
      expect((await registerAutomations(there, [entry], { taskQueue }))[0]!.change).toBe('created');
      const made = await there.schedule.getHandle(scheduleIdOf(entry.name)).describe();
      expect(made.typedSearchAttributes.get(SearchAttributeKeys.automation)).toBe(entry.name);
      expect(made.typedSearchAttributes.get(SearchAttributeKeys.definitionHash)).toBeUndefined();
      const again = await calls(async () => expect((await registerAutomations(there, [entry], { taskQueue }))[0]!.change).toBe('unchanged'));
      expect(again.UpdateSchedule ?? 0).toBeLessThanOrEqual(1); // at most one try to add the attribute, refused
      expect(again.CreateSchedule ?? 0).toBeLessThanOrEqual(2); // refused with the attribute, then as existing
    } finally {
      await there.schedule
        .getHandle(scheduleIdOf(entry.name))
        .delete()
        .catch(() => undefined);
    }
  });
});

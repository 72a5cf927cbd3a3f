// Figure 6: registering 1,000 automations with registerAutomations against the real server, then
// registering them again unchanged (which should cost a fraction of the first time).
import pLimit from 'p-limit';
import type { Client } from '@temporalio/client';
import { desiredSchedule, listedDefinitionHashes, REGISTRATION_CONCURRENCY, registerAutomations, scheduleIdOf } from '../../client/schedules.js';
import { validateAutomation } from '../../spec/validate.js';
import type { FigureResult } from '../lib/report.js';
import type { Budget } from '../lib/budget.js';
import { total, type RpcCounter } from '../../test/harness/rpcCounter.js';
import type { BenchStack, CountedServer } from '../lib/stack.js';
import { nowMs } from '../lib/stats.js';
import { treeCpuSeconds } from '../lib/workerProcess.js';
import { TINY_MODEL_FOLDER } from '../lib/tinyModel.js';

export interface RegistrationOptions {
  automations: number;
  /** Repetitions: `minimum` always, up to `wanted` while the budget allows (keeping `reserveMs` for the figures after it). */
  repetitions: { minimum: number; wanted: number };
  budget: Budget;
  reserveMs: number;
  /** How many of them the plain-create floor makes (creating is slow on the dev server: a sample suffices per automation). */
  plainCreates: number;
}

/** Nobody polls it: the schedules are registered, never run (their cron is yearly anyway). */
const TASK_QUEUE = 'bench-registration-unpolled';

export async function registration(stack: BenchStack, options: RegistrationOptions): Promise<Omit<FigureResult, 'durationS'>> {
  const m = newMeasurements();
  const rpcMethods: Record<string, Record<string, number>> = {};
  let repetitions = 0;
  let slowestMs = 0;
  while (repetitions < options.repetitions.minimum || (repetitions < options.repetitions.wanted && options.budget.allows(slowestMs * 1.2, options.reserveMs))) {
    const rep = repetitions++;
    const repStarted = Date.now();
    // A fresh server for each repetition: the listing reads every schedule of the namespace, so the
    // earlier repetitions' schedules would make each later one list more; and thousands of schedules
    // would weigh on the figures measured after this one.
    const separate = await stack.startSeparateServer(`registration-${rep}`);
    try {
      await repetition(stack, separate, rep, options, m, rpcMethods);
    } finally {
      await separate.stop();
    }
    slowestMs = Math.max(slowestMs, Date.now() - repStarted);
  }
  const n = options.automations.toLocaleString('en-US');
  const rawLabel = 'plain client.schedule.create, per schedule';
  return {
    id: 'registration',
    title: '6. Registration',
    method:
      `${n} validated automations (a yearly cron, the tiny model's build) registered with registerAutomations against the dev server, ` +
      `then registered again unchanged once the listing shows them all: one ListSchedules (paged) reads every schedule's definition hash from ` +
      `its RefitDefinitionHash search attribute, and nothing is described or written. That is done twice: at once, while the server is still ` +
      `starting the new schedules' workflows, and again once the server's CPU has settled (a user registers again with their next change). As a floor, ${options.plainCreates} of the same schedules ` +
      `made again (under other ids) with plain client.schedule.create calls, ${REGISTRATION_CONCURRENCY} in flight as in registerAutomations, no ` +
      `check of what exists. gRPC calls are counted by a client interceptor. ${repetitions} repetitions, each on a fresh dev server of its own.`,
    tables: [
      {
        title: 'Time',
        rows: [
          { label: `first registration of ${n} automations (registerAutomations)`, unit: 's', values: m.firstS },
          {
            label: `re-registration of the ${n}, unchanged, once the server has settled (target ≤ 0.1×)`,
            unit: 's',
            values: m.againSettledS,
            baseline: { label: 'first registration', values: m.firstS },
          },
          {
            label: `re-registration of the ${n}, unchanged, as soon as the listing shows them (the server still busy)`,
            unit: 's',
            values: m.againS,
            baseline: { label: 'first registration', values: m.firstS },
          },
          {
            label: 'first registration, per automation',
            unit: 'ms',
            values: m.firstPerAutomationMs,
            baseline: { label: rawLabel, values: m.rawPerAutomationMs },
          },
          { label: rawLabel, unit: 'ms', values: m.rawPerAutomationMs },
          { label: `validating the ${n} definitions (zod, in process)`, unit: 'ms', values: m.validateMs },
          { label: 'first registration done → the listing shows all (untimed wait before re-registering)', unit: 'ms', values: m.listedAfterMs },
          {
            label: 'first re-registration done → the server settled (untimed; under 10% of a core for 1 s)',
            unit: 'ms',
            values: m.settledAfterMs,
          },
          { label: 'the dev server busy meanwhile (its work on the new schedules)', unit: 'CPU-s', values: m.serverBusyCpuS },
        ],
      },
      {
        title: 'gRPC calls per automation (counts, not speeds)',
        rows: [
          { label: 'first registration', unit: 'count', values: m.firstRpcs },
          { label: 're-registration, unchanged', unit: 'count', values: m.againRpcs, baseline: { label: 'first registration', values: m.firstRpcs } },
          { label: 'plain create', unit: 'count', values: m.rawRpcs },
        ],
      },
    ],
    notes: [
      `gRPC calls of the last repetition, by method: ${Object.entries(rpcMethods)
        .map(([what, calls]) => `${what}: ${JSON.stringify(calls)}`)
        .join('; ')}`,
    ],
  };
}

/** Every repetition's measurements, one list per row of the figure. */
function newMeasurements() {
  return {
    validateMs: [] as number[],
    firstS: [] as number[],
    againS: [] as number[],
    againSettledS: [] as number[],
    firstRpcs: [] as number[],
    againRpcs: [] as number[],
    rawRpcs: [] as number[],
    firstPerAutomationMs: [] as number[],
    rawPerAutomationMs: [] as number[],
    listedAfterMs: [] as number[],
    settledAfterMs: [] as number[],
    serverBusyCpuS: [] as number[],
  };
}

type Measured = ReturnType<typeof newMeasurements>;

/** One repetition on its own server: register, register again at once and once settled, then the plain-create floor. */
async function repetition(
  stack: BenchStack,
  { client, rpc, server }: CountedServer,
  rep: number,
  options: RegistrationOptions,
  m: Measured,
  rpcMethods: Record<string, Record<string, number>>,
): Promise<void> {
  const inputs = Array.from({ length: options.automations }, (_, index) => definition(stack, `bench-reg-${rep}-${index}`));
  const validated = nowMs();
  const automations = inputs.map((input) => {
    const result = validateAutomation(input);
    if (!result.ok) throw new Error(`a registration definition is invalid: ${JSON.stringify(result.errors)}`);
    return result.automation;
  });
  m.validateMs.push(nowMs() - validated);

  const first = await measured(rpc, () => registerAutomations(client, automations, { taskQueue: TASK_QUEUE }));
  expectAll(first.value, 'created');
  // A user registers again later, not within milliseconds: wait (untimed) until the eventually consistent
  // listing shows every schedule, as it does a moment after they were made.
  m.listedAfterMs.push(
    await untilAllListed(
      client,
      automations.map((automation) => scheduleIdOf(automation.name)),
    ),
  );
  const again = await measured(rpc, () => registerAutomations(client, automations, { taskQueue: TASK_QUEUE }));
  expectAll(again.value, 'unchanged');
  // The server goes on starting the new schedules' own workflows for seconds after the creates return
  // (1.5 cores busy here): a registration made then shares the machine with that. A user's next
  // registration comes with their next change, so the target is read on a server that has settled.
  const settled = await untilServerSettled(server.pid);
  m.settledAfterMs.push(settled.waitedMs);
  m.serverBusyCpuS.push(settled.cpuS);
  const againSettled = await measured(rpc, () => registerAutomations(client, automations, { taskQueue: TASK_QUEUE }));
  expectAll(againSettled.value, 'unchanged');
  m.firstS.push(first.ms / 1000);
  m.againS.push(again.ms / 1000);
  m.againSettledS.push(againSettled.ms / 1000);
  m.firstRpcs.push(total(first.rpcs) / options.automations);
  m.againRpcs.push(total(again.rpcs) / options.automations);
  rpcMethods.first = first.rpcs;
  rpcMethods.again = again.rpcs;

  // What Temporal itself takes for the same kind of schedules: one create each, no check of what exists,
  // as many in flight at once as registerAutomations has.
  const sample = automations.slice(0, options.plainCreates);
  const limit = pLimit(REGISTRATION_CONCURRENCY);
  const raw = await measured(rpc, () =>
    Promise.all(
      sample.map((automation) =>
        limit(() => client.schedule.create({ scheduleId: `${scheduleIdOf(automation.name)}-plain`, ...desiredSchedule(automation, TASK_QUEUE) })),
      ),
    ),
  );
  m.firstPerAutomationMs.push(first.ms / options.automations);
  m.rawPerAutomationMs.push(raw.ms / sample.length);
  m.rawRpcs.push(total(raw.rpcs) / sample.length);
  rpcMethods.raw = raw.rpcs;
}

/**
 * Waits until the server's process tree has used under a tenth of a core for two half-second samples in a
 * row (at most 2 minutes); returns the wait and the CPU-seconds the server used meanwhile.
 */
async function untilServerSettled(serverPid: number): Promise<{ waitedMs: number; cpuS: number }> {
  const started = nowMs();
  const startCpu = treeCpuSeconds(serverPid);
  let previous = startCpu;
  let quietSamples = 0;
  while (quietSamples < 2) {
    if (nowMs() - started > 120_000) throw new Error('the registration dev server stayed busy for 2 minutes after the registrations');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const cpu = treeCpuSeconds(serverPid);
    quietSamples = cpu - previous < 0.05 ? quietSamples + 1 : 0;
    previous = cpu;
  }
  return { waitedMs: nowMs() - started, cpuS: previous - startCpu };
}

/** Milliseconds until one listing shows every schedule of `scheduleIds` with its definition hash. */
async function untilAllListed(client: Client, scheduleIds: string[]): Promise<number> {
  const started = nowMs();
  for (;;) {
    const listed = await listedDefinitionHashes(client);
    if (scheduleIds.every((scheduleId) => listed.get(scheduleId))) return nowMs() - started;
    if (nowMs() - started > 120_000) throw new Error('the listing did not show every registered schedule within 2 minutes');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function definition(stack: BenchStack, name: string): Record<string, unknown> {
  return {
    name,
    model_id: 'bench-tiny',
    trigger: { type: 'ScheduledTrigger', cron: '0 0 1 1 *' },
    action: {
      build_spec: { git_uri: `${stack.tinyRepositoryUrl}#${TINY_MODEL_FOLDER}`, git_access_token_secret: 'git_token', tags: ['bench'] },
      deployment_condition: { type: 'BuildMetric', metric_name: 'score', direction: 'ABOVE', threshold: '0.5' },
    },
  };
}

async function measured<T>(rpc: RpcCounter, work: () => Promise<T>): Promise<{ ms: number; value: T; rpcs: Record<string, number> }> {
  const before = rpc.snapshot();
  const started = nowMs();
  const value = await work();
  return { ms: nowMs() - started, value, rpcs: rpc.since(before) };
}

function expectAll(registrations: { change: string }[], change: string): void {
  const other = registrations.filter((registration) => registration.change !== change);
  if (other.length) throw new Error(`${other.length} registrations were ${other[0]!.change}, not ${change}`);
}

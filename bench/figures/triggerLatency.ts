// Figure 2: how long after a trigger the build's process starts: from a schedule's fire time, and from
// `refit run` (RefitClient.runDefinition), against the same steps called directly.
import { setTimeout as sleep } from 'node:timers/promises';
import { tsToMs } from '@temporalio/common/lib/time.js';
import { RefitClient } from '../../client/refitClient.js';
import { registerAutomations, scheduleIdOf } from '../../client/schedules.js';
import type { BuildDeployResult } from '../../shared/runTypes.js';
import { directRunner } from '../lib/direct.js';
import type { FigureResult } from '../lib/report.js';
import type { BenchStack } from '../lib/stack.js';
import { readStamp, tinyAutomation } from '../lib/tinyModel.js';

export interface TriggerLatencyOptions {
  manualRuns: number;
  scheduledRuns: number;
  intervalSeconds: number;
}

const SCHEDULE_TIMEOUT_MS = 5 * 60_000;

export async function triggerLatency(stack: BenchStack, options: TriggerLatencyOptions): Promise<Omit<FigureResult, 'durationS'>> {
  const worker = await stack.startWorker('trigger', { bareWorkers: false });
  const refit = new RefitClient(stack.client, worker.taskQueue);
  const direct = directRunner(stack);
  const stampOf = (buildId: string) => {
    const stamp = readStamp(stack.stampDir, buildId);
    if (!stamp) throw new Error(`build ${buildId} wrote no start stamp`);
    return stamp;
  };
  /** Trigger → build process start of the same steps called in this process. */
  const directLatency = async (automation: Parameters<typeof direct.run>[0]) => {
    const run = await direct.run(automation, 'buildModel');
    return stampOf(run.buildId).processStartedAt - run.startedAt;
  };
  try {
    const manualAutomation = tinyAutomation({ name: 'bench-trigger-manual', repositoryUrl: stack.tinyRepositoryUrl });
    // A warm-up of each path (code loaded, the Python environment made).
    await (await refit.runDefinition(manualAutomation)).result();
    await direct.run(manualAutomation, 'buildModel');

    const manual: number[] = [];
    const manualDirect: number[] = [];
    for (let rep = 0; rep < options.manualRuns; rep++) {
      const startedAt = Date.now();
      const result = (await (await refit.runDefinition(manualAutomation)).result()) as BuildDeployResult;
      manual.push(stampOf(result.build_id).processStartedAt - startedAt);
      manualDirect.push(await directLatency(manualAutomation));
    }

    const scheduled = await scheduledLatencies(stack, worker.taskQueue, options, directLatency, stampOf);
    const label = {
      manual: 'refit run (runDefinition) → build process start',
      schedule: 'schedule fire time → build process start',
      direct: 'direct calls → build process start',
    };
    return {
      id: 'trigger_latency',
      title: '2. Trigger latency',
      method:
        `The tiny model's build writes when its process started (from /proc, 10 ms resolution). From \`refit run\` (the time ` +
        `RefitClient.runDefinition is called) and from a schedule's fire time (the scheduled time in the workflow id's suffix; an ` +
        `interval of ${options.intervalSeconds} s registered with registerAutomations) to that start, against the same steps ` +
        '(claimWorkspace, clone, build) called directly in the bench process from the same moment. Each direct run is measured right after ' +
        'its Temporal run.',
      tables: [
        {
          title: 'Trigger → build process start',
          rows: [
            { label: label.manual, unit: 'ms', values: manual, baseline: { label: label.direct, values: manualDirect } },
            { label: `${label.direct} (paired with refit run)`, unit: 'ms', values: manualDirect },
            { label: label.schedule, unit: 'ms', values: scheduled.latency, baseline: { label: label.direct, values: scheduled.direct } },
            { label: `${label.direct} (paired with the schedule)`, unit: 'ms', values: scheduled.direct },
            { label: "of which: fire time → workflow started (the schedule's own delay)", unit: 'ms', values: scheduled.fireToStart },
            { label: 'schedule runs skipped or missing', unit: 'count', values: [scheduled.missing] },
          ],
        },
      ],
      notes: [],
    };
  } finally {
    await worker.stop();
  }
}

async function scheduledLatencies(
  stack: BenchStack,
  taskQueue: string,
  options: TriggerLatencyOptions,
  directLatency: (automation: ReturnType<typeof tinyAutomation>) => Promise<number>,
  stampOf: (buildId: string) => { processStartedAt: number },
) {
  const automation = tinyAutomation({
    name: 'bench-trigger-schedule',
    repositoryUrl: stack.tinyRepositoryUrl,
    change: (input) => (input.trigger = { type: 'ScheduledTrigger', interval: `${options.intervalSeconds}s` }),
  });
  await registerAutomations(stack.client, [automation], { taskQueue });
  const schedule = stack.client.schedule.getHandle(scheduleIdOf(automation.name));
  const latency: number[] = [];
  const direct: number[] = [];
  const fireToStart: number[] = [];
  const seen = new Set<string>();
  const deadline = Date.now() + SCHEDULE_TIMEOUT_MS;
  let missing: number;
  try {
    while (latency.length < options.scheduledRuns) {
      if (Date.now() > deadline) throw new Error(`the schedule started ${latency.length} of ${options.scheduledRuns} runs in ${SCHEDULE_TIMEOUT_MS / 1000} s`);
      const description = await schedule.describe();
      const fresh = description.info.recentActions.filter((action) => !seen.has(action.action.workflow.workflowId));
      if (!fresh.length) {
        await sleep(200);
        continue;
      }
      for (const action of fresh) {
        const workflowId = action.action.workflow.workflowId;
        seen.add(workflowId);
        const handle = stack.client.workflow.getHandle(workflowId);
        const result = (await handle.result()) as BuildDeployResult;
        const firedAt = fireTimeOf(workflowId, automation.name);
        const startedEvent = (await handle.fetchHistory()).events?.[0];
        latency.push(stampOf(result.build_id).processStartedAt - firedAt);
        fireToStart.push(tsToMs(startedEvent?.eventTime) - firedAt);
        // Between two fires the machine is idle: the paired direct run goes there.
        direct.push(await directLatency(automation));
      }
    }
    missing = (await schedule.describe()).info.numActionsSkippedOverlap;
  } finally {
    await schedule.delete();
  }
  return {
    latency: latency.slice(0, options.scheduledRuns),
    direct: direct.slice(0, options.scheduledRuns),
    fireToStart: fireToStart.slice(0, options.scheduledRuns),
    missing,
  };
}

/** Temporal appends the scheduled time to the schedule's workflow id: refit-<name>-2026-11-27T12:00:05Z. */
function fireTimeOf(workflowId: string, name: string): number {
  const suffix = workflowId.slice(scheduleIdOf(name).length + 1);
  const time = Date.parse(suffix);
  if (Number.isNaN(time)) throw new Error(`cannot read the scheduled time from the workflow id ${workflowId}`);
  return time;
}

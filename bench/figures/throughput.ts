// Figure 3: N near-no-op BuildDeploy runs started at once on one worker (in its own process): runs
// completed per second and the worker's peak memory, and how both grow with N.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { WorkflowTypes } from '../../shared/names.js';
import type { BuildDeployInput, BuildDeployResult } from '../../shared/runTypes.js';
import type { Budget } from '../lib/budget.js';
import type { FigureResult, Measurement } from '../lib/report.js';
import type { BenchStack } from '../lib/stack.js';
import { nowMs, summarize } from '../lib/stats.js';
import { tinyAutomation } from '../lib/tinyModel.js';
import { machineCpuSeconds, memoryOf, sampleMemory, treeCpuSeconds } from '../lib/workerProcess.js';

export interface ThroughputOptions {
  /** Trials per N (each on a fresh worker process): `minimum` always, up to `wanted` while the budget allows. */
  sizes: { n: number; minimum: number; wanted: number }[];
  /**
   * Two sizes whose trials alternate (smaller, larger, larger, smaller…), so that the machine's drift and the
   * dev server's growing store weigh on both alike: whether runs/s falls from one to the other is read pair by pair.
   */
  paired?: { smaller: number; larger: number; pairs: number; wantedPairs: number };
  /** Also one trial of this many runs of one model that all deploy: their promotions take turns. */
  deployingN?: number;
  budget: Budget;
}

const MiB = 2 ** 20;

interface Trial {
  n: number;
  seconds: number;
  runsPerSecond: number;
  idleRssMiB: number;
  peakRssMiB: number;
  peakTreeRssMiB: number;
  /** The most the worker's main-thread heap held right after a full GC during the trial; undefined when none ran. */
  liveHeapMiB?: number;
  /** Full GCs of the worker's main thread during the trial. */
  fullGcs: number;
  /** CPU-seconds per run over the trial (first start request → last result): the worker's tree, the dev server, the machine. */
  workerCpuPerRun: number;
  serverCpuPerRun: number;
  machineCpuPerRun: number;
  failed: number;
  /** For runs that deploy: how their promotions took turns, summed over the runs' histories. */
  turns?: PromotionTurns;
}

interface PromotionTurns {
  /** Promotion starts refused because another run's promotion of the model was open. */
  refusedStarts: number;
  /** Timers of under 5 s that fired: a told run trying again while the promotion that told it closes. */
  closingRetries: number;
  /** Back-off timers (5 s or more) that fired: a run that was not told in time and tried again on its own. */
  backOffsRunOut: number;
}

/** Counts, from the runs' histories, what their waits for one another's promotions were. */
async function promotionTurnsOf(handles: { fetchHistory(): Promise<{ events?: TimerEvent[] | null }> }[]): Promise<PromotionTurns> {
  const turns: PromotionTurns = { refusedStarts: 0, closingRetries: 0, backOffsRunOut: 0 };
  for (const handle of handles) {
    const events = (await handle.fetchHistory()).events ?? [];
    const backOffs = new Set(
      events
        .filter((event) => Number(event.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? 0) >= 5)
        .map((event) => event.timerStartedEventAttributes!.timerId),
    );
    for (const event of events) {
      if (event.startChildWorkflowExecutionFailedEventAttributes) turns.refusedStarts++;
      const fired = event.timerFiredEventAttributes?.timerId;
      if (fired === undefined || fired === null) continue;
      if (backOffs.has(fired)) turns.backOffsRunOut++;
      else turns.closingRetries++;
    }
  }
  return turns;
}

/** The parts of a history event read here. */
interface TimerEvent {
  startChildWorkflowExecutionFailedEventAttributes?: unknown;
  timerStartedEventAttributes?: { timerId?: string | null; startToFireTimeout?: { seconds?: unknown } | null } | null;
  timerFiredEventAttributes?: { timerId?: string | null } | null;
}

export async function throughput(stack: BenchStack, options: ThroughputOptions): Promise<Omit<FigureResult, 'durationS'>> {
  // Runs of one model promote one at a time (the model's promotion workflow), and a run that finds it
  // taken backs off for up to a minute: N runs of one model that all deploy measure that queue, not
  // what a worker can take. So these runs build and decide, and their condition keeps them from deploying.
  const deploying = tinyAutomation({ name: 'bench-throughput-deploying', repositoryUrl: stack.tinyRepositoryUrl });
  const automation = tinyAutomation({
    name: 'bench-throughput',
    repositoryUrl: stack.tinyRepositoryUrl,
    change: (input) => {
      const action = input.action as { deployment_condition: { threshold: string } };
      action.deployment_condition.threshold = '2';
    },
  });
  const trials: Trial[] = [];
  const took = new Map<number, number>();
  const runTrial = async (n: number) => {
    const started = Date.now();
    trials.push(await trial(stack, automation, n, `throughput-${n}-${trials.length}`, false));
    took.set(n, Math.max(took.get(n) ?? 0, Date.now() - started));
  };
  const pairs: { smaller: Trial; larger: Trial }[] = [];
  const runPair = async ({ smaller, larger }: NonNullable<ThroughputOptions['paired']>) => {
    const order = pairs.length % 2 ? [larger, smaller] : [smaller, larger];
    for (const n of order) await runTrial(n);
    const [a, b] = trials.slice(-2) as [Trial, Trial];
    pairs.push(a.n === smaller ? { smaller: a, larger: b } : { smaller: b, larger: a });
  };
  const paired = options.paired;
  const minimumOf = async (keep: (n: number) => boolean) => {
    for (const { n, minimum } of options.sizes.filter((size) => keep(size.n))) for (let rep = 0; rep < minimum; rep++) await runTrial(n);
  };
  await minimumOf((n) => !paired || n < paired.smaller);
  if (paired) for (let pair = 0; pair < paired.pairs; pair++) await runPair(paired);
  if (paired) await minimumOf((n) => n > paired.larger);
  // Extra trials, largest N first (its spread matters most), each only if the slowest one of its N so far fits again.
  const skipped: string[] = [];
  for (const { n, minimum, wanted } of [...options.sizes].reverse()) {
    for (let rep = minimum; rep < wanted; rep++) {
      if (!options.budget.allows((took.get(n) ?? 0) * 1.2)) {
        skipped.push(`N = ${n}: ${wanted - rep} of ${wanted}`);
        break;
      }
      await runTrial(n);
    }
  }
  if (paired)
    for (let pair = paired.pairs; pair < paired.wantedPairs; pair++) {
      if (!options.budget.allows(((took.get(paired.smaller) ?? 0) + (took.get(paired.larger) ?? 0)) * 1.2)) {
        skipped.push(`N = ${paired.smaller} and ${paired.larger}: ${paired.wantedPairs - pair} of ${paired.wantedPairs} pairs`);
        break;
      }
      await runPair(paired);
    }
  const deployingTrial = options.deployingN ? await trial(stack, deploying, options.deployingN, `throughput-deploying-${options.deployingN}`, true) : undefined;
  return report(trials, pairs, options, skipped, deployingTrial);
}

async function trial(stack: BenchStack, automation: ReturnType<typeof tinyAutomation>, n: number, label: string, deploys: boolean): Promise<Trial> {
  const worker = await stack.startWorker(label, { bareWorkers: false });
  try {
    const start = (id: string) =>
      stack.client.workflow.start<(input: BuildDeployInput) => Promise<BuildDeployResult>>(WorkflowTypes.buildDeploy, {
        taskQueue: worker.taskQueue,
        workflowId: `bench-${label}-${id}`,
        args: [{ automation, trigger: { kind: 'manual' } }],
      });
    // One run first, so code loading and the first workflow's isolate are not counted against N = 1.
    await (await start('warmup')).result();
    const idle = memoryOf(worker.pid)!;
    resetPeak(worker.pid);
    const sampler = sampleMemory(worker.pid);
    const startedAt = Date.now();
    const cpu0 = { worker: treeCpuSeconds(worker.pid), server: treeCpuSeconds(stack.server.pid), machine: machineCpuSeconds() };
    const started = nowMs();
    const handles = await Promise.all(Array.from({ length: n }, () => start(randomUUID())));
    const outcomes = await Promise.allSettled(handles.map((handle) => handle.result()));
    const seconds = (nowMs() - started) / 1000;
    const cpu = {
      worker: (treeCpuSeconds(worker.pid) - cpu0.worker) / n,
      server: (treeCpuSeconds(stack.server.pid) - cpu0.server) / n,
      machine: (machineCpuSeconds() - cpu0.machine) / n,
    };
    const sampled = sampler.stop();
    const turns = deploys ? await promotionTurnsOf(handles) : undefined;
    const collections = fullCollections(worker.heapLogFile, startedAt, Date.now());
    const peak = Math.max(sampled.peakRss, memoryOf(worker.pid)?.peak ?? 0);
    return {
      n,
      seconds,
      runsPerSecond: n / seconds,
      idleRssMiB: idle.rss / MiB,
      peakRssMiB: peak / MiB,
      peakTreeRssMiB: sampled.peakTreeRss / MiB,
      ...(collections.length ? { liveHeapMiB: Math.max(...collections) / MiB } : {}),
      fullGcs: collections.length,
      workerCpuPerRun: cpu.worker,
      serverCpuPerRun: cpu.server,
      machineCpuPerRun: cpu.machine,
      failed: outcomes.filter(
        (outcome) =>
          outcome.status === 'rejected' || (deploys ? !outcome.value.condition?.passed : outcome.value.deployed || outcome.value.condition?.passed !== false),
      ).length,
      ...(turns ? { turns } : {}),
    };
  } finally {
    await worker.stop();
  }
}

/** The heap in use after each of the worker's full GCs between two times (bytes), from its heap log. */
function fullCollections(heapLogFile: string, from: number, to: number): number[] {
  if (!existsSync(heapLogFile)) return [];
  return readFileSync(heapLogFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { at: number; used: number })
    .filter((entry) => entry.at >= from && entry.at <= to)
    .map((entry) => entry.used);
}

/** Resets the kernel's peak-RSS mark (VmHWM), so it covers the N runs only; harmless where it is not allowed. */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not permitted here: the sampled peak still counts.
  }
}

/** Runs/s at the larger N of a pair against the smaller, at or above which runs/s counts as not falling. */
export const NOT_FALLING_RATIO = 0.95;

function report(
  trials: Trial[],
  pairs: { smaller: Trial; larger: Trial }[],
  options: ThroughputOptions,
  skipped: string[],
  deploying?: Trial,
): Omit<FigureResult, 'durationS'> {
  const of = (n: number) => trials.filter((trial) => trial.n === n);
  const paired = options.paired;
  const sizes = [...new Set([...options.sizes.map((size) => size.n), ...(paired ? [paired.smaller, paired.larger] : [])])].sort((a, b) => a - b);
  const first = sizes[0]!;
  const baselineThroughput = summarize(of(first).map((trial) => trial.runsPerSecond)).median;
  const baselinePeak = summarize(of(first).map((trial) => trial.peakRssMiB)).median;
  const rows = (pick: (trial: Trial) => number, unit: Measurement['unit'], baseline?: { label: string; value: number }): Measurement[] =>
    sizes.map((n) => ({
      label: `N = ${n}`,
      unit,
      values: of(n).map(pick),
      ...(baseline ? { baseline: { label: baseline.label, values: of(n).map(() => baseline.value) } } : {}),
    }));
  return {
    id: 'throughput_memory',
    title: '3. Throughput and memory',
    method:
      'N near-no-op BuildDeploy runs (the run of figure 1, with a threshold the build never passes: clone, build, metrics, condition, ' +
      'no deploy, since runs of one model promote one at a time) started at once (all start requests in flight together) on one worker in ' +
      "a process of its own, with the worker's default slots (REFIT_WORKER_*_SLOTS: a build per core, two clones per core); runs/s = N / (first start request → last result). The worker's " +
      'RSS is sampled from /proc every 200 ms and its kernel peak (VmHWM, reset after a warm-up run) read at the end; the process tree ' +
      "(git and Python children included) is sampled too, and the worker's main thread logs its heap in use after each full GC (a PerformanceObserver), " +
      'which tells what is live from garbage V8 has not collected yet. A fresh worker per trial.',
    tables: [
      {
        title: 'Runs completed per second',
        rows: rows((trial) => trial.runsPerSecond, 'runs/s', { label: `N = ${first} (median)`, value: baselineThroughput }),
      },
      ...(paired && pairs.length
        ? [
            {
              title: `N = ${paired.larger} against N = ${paired.smaller}, in alternating pairs of trials (target: runs/s not falling, ≥ ${NOT_FALLING_RATIO}×)`,
              rows: [
                {
                  label: `N = ${paired.larger}: runs/s`,
                  unit: 'runs/s' as const,
                  values: pairs.map((pair) => pair.larger.runsPerSecond),
                  baseline: { label: `N = ${paired.smaller} of the same pair`, values: pairs.map((pair) => pair.smaller.runsPerSecond) },
                },
                {
                  label: `N = ${paired.larger}: the machine's CPU per run`,
                  unit: 'CPU-s' as const,
                  values: pairs.map((pair) => pair.larger.machineCpuPerRun),
                  baseline: { label: `N = ${paired.smaller} of the same pair`, values: pairs.map((pair) => pair.smaller.machineCpuPerRun) },
                },
              ],
            },
          ]
        : []),
      {
        title: 'Worker peak RSS (the worker process alone)',
        rows: rows((trial) => trial.peakRssMiB, 'MiB', { label: `N = ${first} (median)`, value: baselinePeak }),
      },
      { title: 'Worker peak RSS above its idle RSS, per run in flight', rows: rows((trial) => (trial.peakRssMiB - trial.idleRssMiB) / trial.n, 'MiB') },
      { title: "Peak RSS of the worker's whole process tree (with git and Python children)", rows: rows((trial) => trial.peakTreeRssMiB, 'MiB') },
      {
        // A peak RSS says when V8 last collected as much as what is live: it may put off its first full GC until the
        // old generation reaches its initial limit, and the RSS it grew to stays. What is left after a full GC is live.
        title: "The worker's main-thread heap right after a full GC: the most during the trial, and how many full GCs ran (trials with one)",
        rows: [
          ...rows((trial) => trial.liveHeapMiB ?? NaN, 'MiB')
            // Only sizes whose trials all had a full GC (short trials may end before the first).
            .filter((row) => row.values.length && row.values.every((value) => !Number.isNaN(value)))
            .map((row) => ({ ...row, label: `${row.label}: live heap` })),
          ...rows((trial) => trial.fullGcs, 'count').map((row) => ({ ...row, label: `${row.label}: full GCs` })),
        ],
      },
      {
        // Whether a run costs more work at a larger N (replays after cache evictions, a busier server) or only waits longer.
        title: "CPU per run over the trial: the worker's process tree (the confined builds not counted), the dev server, the machine",
        rows: [
          ...rows((trial) => trial.workerCpuPerRun, 'CPU-s').map((row) => ({ ...row, label: `${row.label}: worker tree` })),
          ...rows((trial) => trial.serverCpuPerRun, 'CPU-s').map((row) => ({ ...row, label: `${row.label}: dev server` })),
          ...rows((trial) => trial.machineCpuPerRun, 'CPU-s').map((row) => ({ ...row, label: `${row.label}: the machine` })),
        ],
      },
      {
        title: 'Idle worker RSS (after one warm-up run) and failed runs',
        rows: [
          ...rows((trial) => trial.idleRssMiB, 'MiB').map((row) => ({ ...row, label: `${row.label}: idle RSS` })),
          ...rows((trial) => trial.failed, 'count').map((row) => ({
            ...row,
            label: `${row.label}: failed runs (or deployed, or passing: not the run measured)`,
          })),
        ],
      },
      ...(deploying
        ? [
            {
              title: `${deploying.n} runs of one model that all deploy, started at once (their promotions take turns, each run told when the one before ends)`,
              rows: [
                { label: `N = ${deploying.n}, all deploying`, unit: 'runs/s' as const, values: [deploying.runsPerSecond] },
                { label: `N = ${deploying.n}, all deploying: runs failed or not passing`, unit: 'count' as const, values: [deploying.failed] },
                { label: `N = ${deploying.n}, all deploying: the machine's CPU per run`, unit: 'CPU-s' as const, values: [deploying.machineCpuPerRun] },
                { label: `N = ${deploying.n}, all deploying: the dev server's CPU per run`, unit: 'CPU-s' as const, values: [deploying.serverCpuPerRun] },
                ...(deploying.turns
                  ? [
                      {
                        label: 'promotion starts refused (another promotion of the model open), all runs',
                        unit: 'count' as const,
                        values: [deploying.turns.refusedStarts],
                      },
                      {
                        label: 'retries while the promotion that told a run closed (timers < 5 s fired)',
                        unit: 'count' as const,
                        values: [deploying.turns.closingRetries],
                      },
                      {
                        label: 'back-offs run out (timers ≥ 5 s fired: a run not told in time)',
                        unit: 'count' as const,
                        values: [deploying.turns.backOffsRunOut],
                      },
                    ]
                  : []),
              ],
            },
          ]
        : []),
    ],
    notes: skipped.length ? [`Trials left out to stay within the bench's time budget: ${skipped.join('; ')}.`] : [],
    details: { trials },
  };
}

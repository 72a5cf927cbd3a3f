// Figure 1: what Temporal and Refit's workflow add to a BuildDeploy run whose steps do (almost) nothing.
import { randomUUID } from 'node:crypto';
import { WorkflowTypes } from '../../shared/names.js';
import type { BuildDeployInput, BuildDeployResult } from '../../shared/runTypes.js';
import { directRunner, STEPS, type Step } from '../lib/direct.js';
import { stepShares, timelineOf } from '../lib/history.js';
import type { FigureResult, Measurement } from '../lib/report.js';
import type { BenchStack } from '../lib/stack.js';
import { nowMs, pairedDifferences, summarize } from '../lib/stats.js';
import { tinyAutomation } from '../lib/tinyModel.js';
import { cpuSplitOf, machineCpuSeconds, treeCpuSeconds } from '../lib/workerProcess.js';

/** The steps a build's own activity may take on (the run then has no activity for them), and when. */
const DECIDED_BY_BUILD = {
  collectMetrics: 'buildModel returned the metrics',
  checkDeploymentCondition: 'buildModel decided the static threshold',
} as const;

export interface OverheadOptions {
  repetitions: number;
  warmups: number;
}

type Variant = 'refit' | 'bare' | 'direct';

export async function orchestrationOverhead(stack: BenchStack, options: OverheadOptions): Promise<Omit<FigureResult, 'durationS'>> {
  const worker = await stack.startWorker('overhead');
  try {
    const automation = tinyAutomation({ name: 'bench-overhead', repositoryUrl: stack.tinyRepositoryUrl });
    const direct = directRunner(stack);
    const refit = {
      totalMs: [] as number[],
      steps: [] as ReturnType<typeof stepShares>[],
      clientMs: [] as number[],
      finishMs: [] as number[],
      ...cpuSeries(),
    };
    const bare = {
      totalMs: [] as number[],
      steps: [] as ReturnType<typeof stepShares>[],
      ...cpuSeries(),
    };
    /** What `work` costs the machine, and of that the worker's process tree, the Temporal server and this process. */
    const cpuOf = async <T>(work: () => Promise<T>): Promise<T & CpuOfRun> => {
      const worker0 = treeCpuSeconds(worker.pid);
      const server0 = treeCpuSeconds(stack.server.pid);
      const bench0 = cpuSplitOf(process.pid);
      const machine0 = machineCpuSeconds();
      const value = await work();
      const machineCpuS = machineCpuSeconds() - machine0;
      const bench = cpuSplitOf(process.pid);
      return {
        ...value,
        workerCpuS: treeCpuSeconds(worker.pid) - worker0,
        serverCpuS: treeCpuSeconds(stack.server.pid) - server0,
        benchCpuS: bench.own - bench0.own,
        // The worker and the dev server live on: the children this process waited for meanwhile are the git server's.
        gitServerChildrenCpuS: bench.endedChildren - bench0.endedChildren,
        machineCpuS,
      };
    };
    const recordCpu = (series: CpuSeries, run: CpuOfRun) => {
      for (const key of CPU_KEYS) series[key].push(run[key]);
    };
    const directRuns: Awaited<ReturnType<typeof direct.run>>[] = [];

    const runRefit = async () => {
      const started = nowMs();
      const handle = await stack.client.workflow.start<(input: BuildDeployInput) => Promise<BuildDeployResult>>(WorkflowTypes.buildDeploy, {
        taskQueue: worker.taskQueue,
        workflowId: `bench-overhead-${randomUUID()}`,
        args: [{ automation, trigger: { kind: 'manual' } }],
      });
      const result = await handle.result();
      const totalMs = nowMs() - started;
      if (!result.deployed) throw new Error(`the bench BuildDeploy did not deploy: ${result.reason}`);
      return { totalMs, handle };
    };
    const runBare = async () => {
      const started = nowMs();
      const handle = await stack.client.workflow.start('bareSteps', {
        taskQueue: worker.bareTaskQueue,
        workflowId: `bench-bare-${randomUUID()}`,
        args: [{ hostTaskQueue: worker.bareHostTaskQueue, steps: STEPS.length }],
      });
      await handle.result();
      return { totalMs: nowMs() - started, handle };
    };

    // The first build makes the bare Python environment; the first runs load code paths: not measured.
    for (let i = 0; i < options.warmups; i++) {
      await runRefit();
      await runBare();
      await direct.run(automation);
    }
    const order: Variant[] = ['refit', 'bare', 'direct'];
    for (let rep = 0; rep < options.repetitions; rep++) {
      // Rotating the order spreads any drift of the machine's load over the three alike.
      for (const variant of [...order.slice(rep % 3), ...order.slice(0, rep % 3)]) {
        if (variant === 'refit') {
          const { totalMs, handle, ...cpu } = await cpuOf(runRefit);
          recordCpu(refit, cpu);
          const timeline = timelineOf(await handle.fetchHistory());
          const shares = stepShares(timeline);
          refit.totalMs.push(totalMs);
          refit.steps.push(shares);
          refit.clientMs.push(totalMs - (timeline.closedAt - timeline.startedAt));
          refit.finishMs.push(timeline.closedAt - (timeline.steps.at(-1)?.completedAt ?? timeline.startedAt));
        } else if (variant === 'bare') {
          const { totalMs, handle, ...cpu } = await cpuOf(runBare);
          recordCpu(bare, cpu);
          bare.totalMs.push(totalMs);
          bare.steps.push(stepShares(timelineOf(await handle.fetchHistory())));
        } else {
          directRuns.push(await direct.run(automation));
        }
      }
    }
    return report(refit, bare, directRuns, options);
  } finally {
    await worker.stop();
  }
}

interface CpuOfRun {
  workerCpuS: number;
  serverCpuS: number;
  benchCpuS: number;
  gitServerChildrenCpuS: number;
  machineCpuS: number;
}
type CpuSeries = { [key in keyof CpuOfRun]: number[] };
const CPU_KEYS = ['workerCpuS', 'serverCpuS', 'benchCpuS', 'gitServerChildrenCpuS', 'machineCpuS'] as const satisfies readonly (keyof CpuOfRun)[];

function cpuSeries(): CpuSeries {
  return Object.fromEntries(CPU_KEYS.map((key) => [key, []])) as unknown as CpuSeries;
}

/** The machine's CPU during a run less the processes measured apart: the confined build, the kernel, anything else. */
function restOf(series: CpuSeries): number[] {
  return series.machineCpuS.map(
    (machine, i) => machine - series.workerCpuS[i]! - series.serverCpuS[i]! - series.benchCpuS[i]! - series.gitServerChildrenCpuS[i]!,
  );
}

function report(
  refit: { totalMs: number[]; steps: ReturnType<typeof stepShares>[]; clientMs: number[]; finishMs: number[] } & CpuSeries,
  bare: { totalMs: number[]; steps: ReturnType<typeof stepShares>[] } & CpuSeries,
  directRuns: { totalMs: number; stepMs: Record<Step, number> }[],
  options: OverheadOptions,
): Omit<FigureResult, 'durationS'> {
  const steps = STEPS.length;
  const directTotal = directRuns.map((run) => run.totalMs);
  const added = pairedDifferences(refit.totalMs, directTotal);
  const barePerStep = bare.totalMs.map((ms) => ms / steps);
  // The deploy runs in the model's promotion workflow: the child's window is the deploy step's share.
  const recordedAs = (step: Step) => (step === 'deployBuild' ? 'promoteBuild' : step);
  const shareOf = (step: Step) => refit.steps.map((shares) => shares.find((share) => share.activity === recordedAs(step)));
  const perRun: Measurement[] = [
    {
      label: 'BuildDeploy on Temporal (client start → result)',
      unit: 'ms',
      values: refit.totalMs,
      baseline: { label: '(b) same activities called directly', values: directTotal },
    },
    { label: '(b) same activities called directly', unit: 'ms', values: directTotal },
    { label: `(a) bare workflow, ${steps} no-op activities`, unit: 'ms', values: bare.totalMs },
    { label: 'added per run: BuildDeploy − direct', unit: 'ms', values: added, baseline: { label: '(a) bare workflow', values: bare.totalMs } },
    {
      label: `added per step: (BuildDeploy − direct) / ${steps} (the run's steps; the metrics are read, and a static threshold decided, by the build's activity)`,
      unit: 'ms',
      values: added.map((ms) => ms / steps),
      baseline: { label: '(a) bare workflow per step', values: barePerStep },
    },
    { label: '(a) bare workflow per step', unit: 'ms', values: barePerStep },
  ];
  const cpu: Measurement[] = [
    {
      label: 'BuildDeploy: the machine busy during the run (all processes; target ≤ 0.25 CPU-s)',
      unit: 'CPU-s',
      values: refit.machineCpuS,
      baseline: { label: 'the same for the bare workflow', values: bare.machineCpuS },
    },
    { label: '(a) bare workflow: the machine busy during the run', unit: 'CPU-s', values: bare.machineCpuS },
    {
      label: "BuildDeploy: the worker's process tree (git children; the confined build is not counted here)",
      unit: 'CPU-s',
      values: refit.workerCpuS,
      baseline: { label: 'the same for the bare workflow', values: bare.workerCpuS },
    },
    { label: 'BuildDeploy: the Temporal dev server', unit: 'CPU-s', values: refit.serverCpuS },
    {
      label: 'BuildDeploy: the bench process (the client that starts the run and waits for it, and the git server in it)',
      unit: 'CPU-s',
      values: refit.benchCpuS,
    },
    {
      label: "BuildDeploy: the git server's git processes (http-backend, upload-pack: the repository host's side of the clone)",
      unit: 'CPU-s',
      values: refit.gitServerChildrenCpuS,
    },
    { label: 'BuildDeploy: the rest of the machine (the confined build, the kernel, other processes)', unit: 'CPU-s', values: restOf(refit) },
    { label: "(a) bare workflow: the worker's process tree", unit: 'CPU-s', values: bare.workerCpuS },
    { label: '(a) bare workflow: the Temporal dev server', unit: 'CPU-s', values: bare.serverCpuS },
    { label: '(a) bare workflow: the bench process (the client)', unit: 'CPU-s', values: bare.benchCpuS },
    { label: '(a) bare workflow: the rest of the machine', unit: 'CPU-s', values: restOf(bare) },
  ];
  const perStep: Measurement[] = STEPS.map((step) => {
    // The metrics and condition steps have no activity when the build returned the metrics and decided the
    // condition: their share is then nothing.
    const decidedByBuild = DECIDED_BY_BUILD[step as keyof typeof DECIDED_BY_BUILD];
    const wall = shareOf(step).map((share) => share?.wallMs ?? (decidedByBuild ? 0 : Number.NaN));
    const directMs = directRuns.map((run) => run.stepMs[step]);
    return {
      label: decidedByBuild ? `${step}: on Temporal − direct (0 when ${decidedByBuild})` : `${step}: on Temporal − direct`,
      unit: 'ms',
      values: pairedDifferences(wall, directMs),
      note: `direct call median ${summarize(directMs).median.toFixed(1)} ms`,
    };
  });
  type Share = ReturnType<typeof stepShares>[number];
  const sumOver = (runs: Share[][], pick: (share: Share) => number) => runs.map((shares) => shares.reduce((sum, share) => sum + pick(share), 0));
  const executionMinusDirect = pairedDifferences(
    sumOver(refit.steps, (share) => share.executionMs),
    directTotal,
  );
  const inBare = (label: string, pick: (share: Share) => number) => ({ label: `${label} in the bare workflow`, values: sumOver(bare.steps, pick) });
  const whereItGoes: Measurement[] = [
    {
      label: 'workflow tasks (previous step done → next scheduled), all steps',
      unit: 'ms',
      values: sumOver(refit.steps, (share) => share.workflowTaskMs),
      baseline: inBare('the same', (share) => share.workflowTaskMs),
    },
    {
      label: 'dispatch (scheduled → picked up by the worker), all steps',
      unit: 'ms',
      values: sumOver(refit.steps, (share) => share.dispatchMs),
      baseline: inBare('the same', (share) => share.dispatchMs),
    },
    { label: 'workflow tasks in the bare workflow', unit: 'ms', values: sumOver(bare.steps, (share) => share.workflowTaskMs) },
    { label: 'dispatch in the bare workflow', unit: 'ms', values: sumOver(bare.steps, (share) => share.dispatchMs) },
    { label: 'activity execution on the worker − direct calls', unit: 'ms', values: executionMinusDirect },
    { label: 'last step done → workflow completed', unit: 'ms', values: refit.finishMs },
    { label: 'client: start request + result delivery', unit: 'ms', values: refit.clientMs },
    { label: 'activity attempts beyond the first', unit: 'count', values: sumOver(refit.steps, (share) => Math.max(0, share.attempt - 1)) },
  ];
  return {
    id: 'orchestration_overhead',
    title: '1. Orchestration overhead',
    method:
      `A BuildDeploy run of the tiny model (real clone from the token-checking git server, real Python build that logs one metric, static ` +
      `condition, a deployment target that does nothing) on a worker in its own process, against (a) a bare workflow with the same ` +
      `${steps} activities doing nothing, routed the same way, and (b) the same activity functions (createActivities with the same ` +
      `dependencies) called in the same order in the bench process, each inside @temporalio/testing's MockActivityEnvironment ` +
      `because they read Temporal's activity Context. ${options.repetitions} repetitions after ${options.warmups} warm-up, the three ` +
      "variants back to back in rotating order; per-step times come from the run's history.",
    tables: [
      { title: 'Per run', rows: perRun },
      {
        title: 'CPU per run (/proc/stat for the machine; /proc/<pid>/stat, ended children included, for each process tree)',
        rows: cpu,
      },
      { title: "Per step: added latency (the step's share of the run on Temporal − the same call made directly)", rows: perStep },
      { title: "Where the added time goes (sums over the run's steps, from its history)", rows: whereItGoes },
    ],
    notes: [waitsNote(refit.steps, bare.steps)],
    details: { steps: STEPS },
  };
}

/** The per-step waits of both workflows side by side: they decide how to read baseline (a). */
function waitsNote(refit: ReturnType<typeof stepShares>[], bare: ReturnType<typeof stepShares>[]): string {
  const perStep = (runs: ReturnType<typeof stepShares>[], pick: (share: ReturnType<typeof stepShares>[number]) => number) =>
    summarize(runs.flatMap((shares) => shares.map(pick))).median.toFixed(0);
  return (
    `Median wait per step, dispatch / workflow task: BuildDeploy ${perStep(refit, (share) => share.dispatchMs)} / ` +
    `${perStep(refit, (share) => share.workflowTaskMs)} ms, bare workflow ${perStep(bare, (share) => share.dispatchMs)} / ` +
    `${perStep(bare, (share) => share.workflowTaskMs)} ms. (a) is Temporal's own share of a step; (b) is the baseline to read the added latency against. ` +
    'The embedded dev server reads its transfer queue up to 1,000 times a second: at its default of 20, every step that ' +
    'followed a quick one waited ~45 ms for the next read, at both.'
  );
}

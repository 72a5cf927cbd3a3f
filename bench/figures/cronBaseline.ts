// Figure 8: what a user pays for Refit against what they would run instead. `refit run --wait` (the CLI
// as a user runs it, a worker with Refit's local target that starts a real model server) against a
// cron-style shell script doing the same job with the same SDK entry points (bench/baseline/cron-job.sh):
// clone the model's folder, install, test, train, read the metric, compare, restart the server.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { stopAllLocalServing } from '../../activities/deploy/local/localTarget.js';
import { registerAutomations } from '../../client/schedules.js';
import { freePort } from '../../platform/freePort.js';
import { packageRoot } from '../../platform/paths.js';
import { benchDeploymentsRoot } from '../lib/dependencies.js';
import type { FigureResult, Measurement } from '../lib/report.js';
import type { BenchStack } from '../lib/stack.js';
import { timedRun } from '../lib/timed.js';
import { TINY_METRIC, TINY_MODEL_FOLDER, tinyAutomation } from '../lib/tinyModel.js';
import { machineCpuSeconds, treeCpuSeconds } from '../lib/workerProcess.js';

const run = promisify(execFile);

export interface CronBaselineOptions {
  /** Each variant: the seconds of real work its training does, and how many alternating pairs. */
  variants: { trainSeconds: number; pairs: number }[];
}

interface Timed {
  wallMs: number;
  /** The command and every child it waited for (GNU time). */
  cpuS: number;
  /** The whole machine during the run (/proc/stat): what the job cost, confined processes included. */
  machineCpuS: number;
}

const SCRIPT = path.join(packageRoot(), 'bench', 'baseline', 'cron-job.sh');
const CLI = path.join(packageRoot(), 'dist', 'client', 'cli.js');

export async function cronBaseline(stack: BenchStack, options: CronBaselineOptions): Promise<Omit<FigureResult, 'durationS'>> {
  const worker = await stack.startWorker('cron-baseline', { bareWorkers: false, deployTarget: 'local' });
  const scriptWork = path.join(stack.stateDir, 'cron-baseline');
  mkdirSync(scriptWork, { recursive: true });
  const tables: FigureResult['tables'] = [];
  const notes: string[] = [];
  try {
    for (const variant of options.variants) {
      const name = `bench-cron-${variant.trainSeconds}s`;
      const automation = tinyAutomation({
        name,
        repositoryUrl: stack.tinyRepositoryUrl,
        change: (input) => {
          const action = input.action as { build_spec: { env_vars: string[] } };
          action.build_spec.env_vars = [`BENCH_TRAIN_SECONDS=${variant.trainSeconds}`];
        },
      });
      await registerAutomations(stack.client, [automation], { taskQueue: worker.taskQueue });
      const port = await freePort();
      const refitRun = async (): Promise<Timed & { workerCpuS: number; serverCpuS: number }> => {
        const worker0 = treeCpuSeconds(worker.pid);
        const server0 = treeCpuSeconds(stack.server.pid);
        const cli = await timed(process.execPath, [CLI, 'run', name, '--wait'], {
          TEMPORAL_ADDRESS: stack.server.address,
          TEMPORAL_NAMESPACE: stack.server.namespace,
          REFIT_TASK_QUEUE: worker.taskQueue,
          REFIT_HOME: stack.home,
        });
        const workerCpuS = treeCpuSeconds(worker.pid) - worker0;
        const serverCpuS = treeCpuSeconds(stack.server.pid) - server0;
        return { ...cli, workerCpuS, serverCpuS };
      };
      const scriptRun = () =>
        timed('bash', [SCRIPT], {
          REPO_URL: stack.tinyRepositoryUrl,
          GIT_TOKEN: stack.git.token,
          SUBDIR: TINY_MODEL_FOLDER,
          WORK: scriptWork,
          PYTHON: stack.python,
          SDK_PATH: path.join(packageRoot(), 'sdk', 'python'),
          METRIC: TINY_METRIC,
          THRESHOLD: '0.5',
          MODEL_NAME: 'bench-tiny',
          PORT: String(port),
          BENCH_TRAIN_SECONDS: String(variant.trainSeconds),
        });
      // One of each first, unmeasured: Refit's first build makes its environment, the script its venv.
      await refitRun();
      await scriptRun();
      const refit: Awaited<ReturnType<typeof refitRun>>[] = [];
      const script: Timed[] = [];
      for (let pair = 0; pair < variant.pairs; pair++) {
        // Alternating which goes first spreads any drift of the machine's load over both alike.
        if (pair % 2 === 0) {
          refit.push(await refitRun());
          script.push(await scriptRun());
        } else {
          script.push(await scriptRun());
          refit.push(await refitRun());
        }
      }
      const work = variant.trainSeconds ? `with ${variant.trainSeconds} s of training (the CPU kept busy)` : 'the tiny model (a near no-op build)';
      const scriptWall = script.map((entry) => entry.wallMs);
      const scriptCpu = script.map((entry) => entry.machineCpuS);
      const rows: Measurement[] = [
        {
          label: 'refit run --wait, end to end (CLI start → the new build serving)',
          unit: 'ms',
          values: refit.map((entry) => entry.wallMs),
          baseline: { label: 'the cron-style script', values: scriptWall },
        },
        { label: 'the cron-style script, end to end (the new build serving)', unit: 'ms', values: scriptWall },
        {
          label: 'refit run --wait: the machine busy during the run (all processes)',
          unit: 'CPU-s',
          values: refit.map((entry) => entry.machineCpuS),
          baseline: { label: 'the script', values: scriptCpu },
        },
        { label: 'the script: the machine busy during the run (all processes)', unit: 'CPU-s', values: scriptCpu },
        { label: 'of Refit: the CLI process', unit: 'CPU-s', values: refit.map((entry) => entry.cpuS) },
        { label: "of Refit: the worker's process tree (confined builds not included)", unit: 'CPU-s', values: refit.map((entry) => entry.workerCpuS) },
        { label: 'of Refit: the Temporal dev server', unit: 'CPU-s', values: refit.map((entry) => entry.serverCpuS) },
        { label: 'of the script: bash and everything it waited for', unit: 'CPU-s', values: script.map((entry) => entry.cpuS) },
      ];
      tables.push({ title: `${work} (target: ${variant.trainSeconds >= 10 ? '≤ 1.05×' : '≤ 1.5×'} the script's wall time)`, rows });
    }
    notes.push(
      "CPU is the machine's busy time during each run (/proc/stat, all processes: the bench's idle servers count on both sides alike, " +
        "about as much per second). The split rows are what each process's own accounting says; a confined build runs in a PID namespace " +
        "whose times never reach the worker's, so the worker-tree row leaves the build out and only the machine row has it.",
    );
  } finally {
    await worker.stop();
    await stopAllLocalServing(benchDeploymentsRoot(stack.home)).catch(() => undefined);
    await stopScriptServer(scriptWork);
    rmSync(scriptWork, { recursive: true, force: true });
  }
  return {
    id: 'cron_baseline',
    title: '8. Against a cron-style script',
    method:
      "`refit run --wait` as a user runs it (node dist/client/cli.js, against the bench's dev server, a worker in its own process with Refit's " +
      'local target, which starts a real model server confined as a build is) against bench/baseline/cron-job.sh, the job a user would ' +
      "otherwise run from cron for the same model with the same SDK entry points: shallow sparse clone of the model's folder from the " +
      'token-checking git server, a venv made once, install and tests when the model has them, `python -m refit_sdk.build`, the metric ' +
      'read from its file and compared with the threshold, the old server stopped and `python -m refit_sdk.serve` started on the new ' +
      'artifact, waiting until it answers /v2/health/ready. Alternating pairs after one unmeasured run of each; wall and CPU time from ' +
      '/usr/bin/time (the CLI, the script) and /proc (the worker tree, the dev server).',
    tables,
    notes,
  };
}

/** A run that must deploy: its wall and CPU time, and the machine's CPU meanwhile. */
async function timed(command: string, args: string[], env: Record<string, string>): Promise<Timed> {
  const machine0 = machineCpuSeconds();
  const { wallMs, cpuS, output } = await timedRun(command, args, env);
  const machineCpuS = machineCpuSeconds() - machine0;
  if (/not deployed/.test(output)) throw new Error(`${path.basename(args[0] ?? command)} did not deploy:\n${output.slice(-2000)}`);
  return { wallMs, cpuS, machineCpuS };
}

async function stopScriptServer(work: string): Promise<void> {
  try {
    const pid = Number(readFileSync(path.join(work, 'server.pid'), 'utf8').trim());
    if (pid > 0) await run('kill', [String(pid)]);
  } catch {
    // Never started, or gone.
  }
}

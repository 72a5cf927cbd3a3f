// Figure 9: what the client costs to start, and what the embedded stack costs doing nothing. `refit`
// commands as a user runs them (node dist/client/cli.js) against Node starting and exiting, and the dev
// server and a worker left idle, per minute.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../../platform/paths.js';
import type { FigureResult, Measurement } from '../lib/report.js';
import type { BenchStack } from '../lib/stack.js';
import { nowMs } from '../lib/stats.js';
import { timedRun } from '../lib/timed.js';
import { memoryOf, treeCpuSeconds, treeRss } from '../lib/workerProcess.js';

export interface ClientAndIdleOptions {
  repetitions: number;
  idleSeconds: number;
}

const CLI = path.join(packageRoot(), 'dist', 'client', 'cli.js');
const MiB = 1024 * 1024;

export async function clientAndIdle(stack: BenchStack, options: ClientAndIdleOptions): Promise<Omit<FigureResult, 'durationS'>> {
  const env = { TEMPORAL_ADDRESS: stack.server.address, TEMPORAL_NAMESPACE: stack.server.namespace, REFIT_HOME: stack.home };
  const seed = path.join(packageRoot(), 'examples', 'seed.yaml');
  const commands: { label: string; args: string[] }[] = [
    { label: 'refit --version', args: [CLI, '--version'] },
    { label: 'refit validate examples/seed.yaml', args: [CLI, 'validate', seed] },
    { label: 'refit list (one listing from the dev server)', args: [CLI, 'list'] },
  ];
  const nodeAlone = { wallMs: [] as number[], cpuS: [] as number[] };
  const byCommand = commands.map(() => ({ wallMs: [] as number[], cpuS: [] as number[] }));
  for (let rep = 0; rep < options.repetitions; rep++) {
    const bare = await timedRun(process.execPath, ['-e', '0'], env);
    nodeAlone.wallMs.push(bare.wallMs);
    nodeAlone.cpuS.push(bare.cpuS);
    for (const [index, command] of commands.entries()) {
      const measured = await timedRun(process.execPath, command.args, env);
      byCommand[index]!.wallMs.push(measured.wallMs);
      byCommand[index]!.cpuS.push(measured.cpuS);
    }
  }
  const startRows: Measurement[] = [
    ...commands.flatMap((command, index): Measurement[] => [
      { label: `${command.label}: wall`, unit: 'ms', values: byCommand[index]!.wallMs, baseline: { label: 'node -e 0', values: nodeAlone.wallMs } },
      { label: `${command.label}: CPU`, unit: 'CPU-s', values: byCommand[index]!.cpuS },
    ]),
    { label: 'node -e 0 (Node starting and exiting): wall', unit: 'ms', values: nodeAlone.wallMs },
    { label: 'node -e 0: CPU', unit: 'CPU-s', values: nodeAlone.cpuS },
  ];

  // Idle: the bench's dev server and a fresh worker with nothing to do, after a settling pause.
  const worker = await stack.startWorker('idle', { bareWorkers: false });
  const idle = { serverCpuPerMin: [] as number[], workerCpuPerMin: [] as number[], serverMiB: [] as number[], workerMiB: [] as number[] };
  try {
    await sleep(5_000);
    const windows = Math.max(1, Math.round(options.idleSeconds / 10));
    for (let window = 0; window < windows; window++) {
      const server0 = treeCpuSeconds(stack.server.pid);
      const worker0 = treeCpuSeconds(worker.pid);
      const started = nowMs();
      await sleep(10_000);
      const minutes = (nowMs() - started) / 60_000;
      idle.serverCpuPerMin.push((treeCpuSeconds(stack.server.pid) - server0) / minutes);
      idle.workerCpuPerMin.push((treeCpuSeconds(worker.pid) - worker0) / minutes);
      idle.serverMiB.push(treeRss(stack.server.pid) / MiB);
      idle.workerMiB.push((memoryOf(worker.pid)?.rss ?? 0) / MiB);
    }
  } finally {
    await worker.stop();
  }
  const idleRows: Measurement[] = [
    { label: 'Temporal dev server (with its tether): CPU per minute', unit: 'CPU-s', values: idle.serverCpuPerMin },
    { label: 'a Refit worker (both pollers, no work): CPU per minute', unit: 'CPU-s', values: idle.workerCpuPerMin },
    { label: 'Temporal dev server: RSS', unit: 'MiB', values: idle.serverMiB },
    { label: 'a Refit worker: RSS', unit: 'MiB', values: idle.workerMiB },
  ];
  return {
    id: 'client_and_idle',
    title: '9. Client start and the idle stack',
    method:
      `Each command started ${options.repetitions} times as a user starts it (node dist/client/cli.js, against the bench's dev server), back to back ` +
      "with `node -e 0`, the floor any Node command pays; wall time and CPU from GNU time. Then the bench's dev server and a fresh worker " +
      `process left with nothing to do: CPU over ${Math.max(1, Math.round(options.idleSeconds / 10))} windows of 10 s (after 5 s to settle), from /proc.`,
    tables: [
      { title: 'Client start (each command runs to its end)', rows: startRows },
      { title: 'The idle stack', rows: idleRows },
    ],
    notes: [],
  };
}

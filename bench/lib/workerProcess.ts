// Starts the bench worker (worker/benchWorker.ts) in a child process and reads its memory from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';

const workerScript = fileURLToPath(new URL('../worker/benchWorker.js', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export interface WorkerProcessOptions {
  address: string;
  namespace: string;
  workflowBundlePath: string;
  taskQueue: string;
  home: string;
  python: string;
  venvCacheDir: string;
  /** Where the worker's stdout and stderr go. */
  logFile: string;
  /** Also run the bare baseline's workers (figure 1); off where only Refit's worker may be measured. */
  bareWorkers: boolean;
  /** noop (default): deploys do nothing; local: Refit's local target starts real model servers. */
  deployTarget?: 'noop' | 'local';
}

export interface WorkerProcess {
  pid: number;
  taskQueue: string;
  /** The queue of the worker's own steps (clone, build, ...), as Refit routes them. */
  hostTaskQueue: string;
  bareTaskQueue: string;
  bareHostTaskQueue: string;
  /** The worker's main-thread heap in use after each full GC, one JSON line per collection ({ at, used } in ms and bytes). */
  heapLogFile: string;
  stop(): Promise<void>;
}

export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const log = openSync(options.logFile, 'a');
  // BENCH_WORKER_CPU_PROFILE=<folder>: each worker writes a V8 CPU profile there when it stops (node refuses
  // --cpu-prof in NODE_OPTIONS), to find where a run's CPU goes in the worker.
  const profileDir = process.env.BENCH_WORKER_CPU_PROFILE;
  const heapLogFile = path.join(path.dirname(options.logFile), `heap-${options.taskQueue}.jsonl`);
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, workerScript], {
    stdio: ['pipe', 'pipe', log],
    env: {
      ...process.env,
      BENCH_TEMPORAL_ADDRESS: options.address,
      BENCH_NAMESPACE: options.namespace,
      BENCH_WORKFLOW_BUNDLE: options.workflowBundlePath,
      BENCH_TASK_QUEUE: options.taskQueue,
      BENCH_HOME: options.home,
      BENCH_PYTHON: options.python,
      BENCH_VENV_CACHE: options.venvCacheDir,
      BENCH_BARE_WORKERS: options.bareWorkers ? '1' : '0',
      BENCH_DEPLOY_TARGET: options.deployTarget ?? 'noop',
      BENCH_HEAP_LOG: heapLogFile,
    },
  });
  const stop = onCleanup(`bench worker ${child.pid}`, () => stopChild(child));
  try {
    await waitForReady(child, options.logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid: child.pid!,
    taskQueue: options.taskQueue,
    hostTaskQueue: `${options.taskQueue}@bench`,
    bareTaskQueue: `${options.taskQueue}-bare`,
    bareHostTaskQueue: `${options.taskQueue}-bare@bench`,
    heapLogFile,
    stop,
  };
}

function waitForReady(child: ChildProcess, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bench worker did not start within ${READY_TIMEOUT_MS} ms; see ${logFile}`)), READY_TIMEOUT_MS);
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes('bench-worker-ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the bench worker exited (code ${code}) before it was ready; its log: ${logFile}\n${tail(logFile)}`));
    });
  });
}

/** Closing stdin asks the worker to shut down; SIGKILL if it does not within the grace time. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** VmRSS and VmHWM (the kernel's own peak RSS, exact between samples) of a process, in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: field('VmRSS'), peak: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds a process has used (user + system), with those of its children that have ended and been
 * waited for (git, Python builds: what a run spawns), from /proc/<pid>/stat; clock ticks are 1/100 s on Linux.
 */
export function cpuSecondsOf(pid: number): number {
  const { own, endedChildren } = cpuSplitOf(pid);
  return own + endedChildren;
}

/** A process's own CPU seconds (user + system) and those of its children that have ended and been waited for. */
export function cpuSplitOf(pid: number): { own: number; endedChildren: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  // After the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  return { own: (fields[11]! + fields[12]!) / 100, endedChildren: (fields[13]! + fields[14]!) / 100 };
}

/**
 * CPU seconds the whole machine has been busy (user, nice, system, irq, softirq of all cores; not idle,
 * iowait or steal), from /proc/stat. Confined build processes run in a PID namespace whose times never
 * reach their parent's, so only this counts everything a run costs.
 */
export function machineCpuSeconds(): number {
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / 100;
}

/** cpuSecondsOf over a process and all its live descendants (a server's tether and the server under it). */
export function treeCpuSeconds(root: number): number {
  return descendantsOf(root).reduce((sum, pid) => {
    try {
      return sum + cpuSecondsOf(pid);
    } catch {
      return sum; // ended since it was listed
    }
  }, 0);
}

/** The summed RSS of a process and all its descendants (git, python builds), in bytes. */
export function treeRss(root: number): number {
  return descendantsOf(root).reduce((total, pid) => total + (memoryOf(pid)?.rss ?? 0), 0);
}

/** A process and all its descendants, read from /proc. */
function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(path.join('/proc', entry, 'stat'), 'utf8');
      // The command name may hold spaces and parentheses: fields are counted after its last ")".
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // Gone since it was listed.
    }
  }
  const found: number[] = [];
  const pending = [root];
  while (pending.length) {
    const pid = pending.pop()!;
    found.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return found;
}

/** Samples the worker's RSS and its process tree's RSS every `everyMs` (reading all of /proc costs: not too often) until stopped. */
export function sampleMemory(pid: number, everyMs = 200): { stop(): { peakRss: number; peakTreeRss: number; samples: number } } {
  let peakRss = 0;
  let peakTreeRss = 0;
  let samples = 0;
  const sample = () => {
    peakRss = Math.max(peakRss, memoryOf(pid)?.rss ?? 0);
    peakTreeRss = Math.max(peakTreeRss, treeRss(pid));
    samples++;
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakRss, peakTreeRss, samples };
    },
  };
}

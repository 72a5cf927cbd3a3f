import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../../platform/freePort.js';
import { logTail } from '../../../platform/processes.js';
import { applyLimits } from '../../build/resourceLimits.js';
import { parseMemory } from '../../../spec/memory.js';
import { SANDBOX_HOME, settingsMounts, type Sandbox, type SandboxMount } from '../../process/sandbox.js';
import type { DeploymentSpec } from '../../../shared/deployment.js';
import type { Pod } from './servingState.js';

export interface PodLaunch {
  modelId: string;
  variation: string;
  buildId: string;
  index: number;
  artifactDir: string;
  python: string;
  sdkPythonPath: string;
  spec: DeploymentSpec;
  env: Record<string, string>;
  logDir: string;
  cgroupRoot?: string;
  /** Model code runs confined, like a build: it sees the interpreter, its environment, refit_sdk and the artifact. */
  sandbox: Sandbox;
  interpreterPrefixes: string[];
}

const SERVE_MODULE = 'refit_sdk.serve';

/**
 * Starts one serving process, detached from the worker: a deployed model keeps serving when the worker
 * stops or restarts (the worker is the control plane, not the data plane). Its CPU and memory are
 * limited like a build's, as far as this host allows.
 */
export async function startPod(launch: PodLaunch): Promise<Pod & { logFile: string }> {
  const port = await freePort();
  const logFile = path.join(launch.logDir, `${launch.variation}-${launch.buildId}-${launch.index}.log`);
  const memory = parseMemory(launch.spec.memory);
  const limits = applyLimits(
    `pod-${launch.modelId}-${launch.variation}-${launch.buildId}-${launch.index}`,
    { cpus: launch.spec.cpu_fraction, memoryMiB: 'mib' in memory ? memory.mib : undefined },
    launch.cgroupRoot,
  );
  const environmentDir = path.dirname(path.dirname(launch.python));
  const mounts: SandboxMount[] = [
    ...launch.interpreterPrefixes.map((prefix) => ({ path: prefix })),
    ...settingsMounts(launch.env),
    { path: environmentDir },
    ...launch.sdkPythonPath
      .split(':')
      .filter(Boolean)
      .map((entry) => ({ path: entry })),
    { path: launch.artifactDir },
  ];
  const serve = [
    '-m',
    SERVE_MODULE,
    '--artifact-dir',
    launch.artifactDir,
    '--model-name',
    launch.modelId,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--workers',
    String(launch.spec.number_of_http_server_workers),
    '--timeout-ms',
    String(launch.spec.http_request_timeout_ms),
    '--max-batch-size',
    String(launch.spec.max_batch_size),
    '--build-id',
    launch.buildId,
    '--variation',
    launch.variation,
    '--daemon-mode',
    String(launch.spec.daemon_mode),
  ];
  const confined = launch.sandbox.wrap(launch.python, serve, { mounts, cwd: launch.artifactDir, keepWithParent: true });
  const { command, args } = limits.wrap(confined.command, confined.args);
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      ...launch.env,
      ...limits.env,
      PATH: `${path.join(environmentDir, 'bin')}:/usr/local/bin:/usr/bin:/bin`,
      HOME: SANDBOX_HOME,
      PYTHONPATH: launch.sdkPythonPath,
      PYTHONUNBUFFERED: '1',
    },
  });
  closeSync(log);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${launch.python} to serve build ${launch.buildId}`);
  return { pid: child.pid, port, logFile, cgroups: limits.cgroups };
}

/** Resolves when the pod answers ready on the Open Inference Protocol's health and model endpoints. */
export async function waitUntilReady(pod: Pod & { logFile: string }, modelId: string, deadline: number, signal?: AbortSignal): Promise<void> {
  const base = `http://127.0.0.1:${pod.port}`;
  while (Date.now() < deadline) {
    if (signal?.aborted) throw new Error('cancelled while waiting for the model server to become ready');
    if (!isServing(pod.pid)) {
      throw new Error(`the model server exited before it was ready; its log (${pod.logFile}) ends with:\n${logTail(pod.logFile, 12)}`);
    }
    try {
      const [health, model] = await Promise.all([
        fetch(`${base}/v2/health/ready`, { signal: AbortSignal.timeout(2000) }),
        fetch(`${base}/v2/models/${encodeURIComponent(modelId)}/ready`, { signal: AbortSignal.timeout(2000) }),
      ]);
      if (health.ok && model.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the model server did not become ready in time; its log (${pod.logFile}) ends with:\n${logTail(pod.logFile, 12)}`);
}

/**
 * True if `pid` is alive and is one of our model servers (a recycled pid of another program is not). A pod starts
 * as a shell that execs bubblewrap, and while a process execs, its command line reads empty for a moment: an empty
 * one is read again (a few milliseconds) before it counts as another program, so a starting pod is not taken for one
 * that exited.
 */
export function isServing(pid: number): boolean {
  for (let reading = 1; ; reading++) {
    const running = runningCommandLine(pid);
    if (running === undefined) return false;
    if (running.includes(SERVE_MODULE)) return true;
    if (running !== '' || reading === EMPTY_COMMAND_LINE_READINGS) return false;
    Atomics.wait(pauseCell, 0, 0, 2);
  }
}

const EMPTY_COMMAND_LINE_READINGS = 25;
const pauseCell = new Int32Array(new SharedArrayBuffer(4));

/** The command line of a live process; undefined for one that is gone or a zombie. */
function runningCommandLine(pid: number): string | undefined {
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ? undefined : commandLine;
  } catch {
    return undefined;
  }
}

/**
 * SIGTERM (the server drains in-flight requests), then SIGKILL after the grace time, to the pod's whole
 * process group: the sandbox and the server inside it.
 */
export async function stopPod(pod: Pod, graceMs = 10_000): Promise<void> {
  if (isServing(pod.pid)) {
    signalGroup(pod.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isServing(pod.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (isServing(pod.pid)) signalGroup(pod.pid, 'SIGKILL');
  }
  for (const dir of pod.cgroups ?? []) {
    try {
      if (existsSync(dir)) rmdirSync(dir);
    } catch {
      // The kernel frees it once the last process in it has gone.
    }
  }
}

/** A pod is started as the leader of its own process group; a pid started otherwise gets the signal alone. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // It ended meanwhile.
    }
  }
}

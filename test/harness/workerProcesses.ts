import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../platform/paths.js';
import { readRunState } from './runState.js';

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves with the exit code (or 128 + signal number) once the process has ended. */
  exited: Promise<number>;
}

/** Starts test/harness/workerProcess.js on a task queue and resolves once it polls. */
export async function startWorkerProcess(options: {
  taskQueue: string;
  home: string;
  venvCache: string;
  grace?: string;
  logFile: string;
  address?: string;
  /** Worker settings (REFIT_*) for this worker. */
  env?: Record<string, string>;
}): Promise<WorkerProcess> {
  const state = readRunState();
  const log = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [path.join(packageRoot(), 'dist', 'test', 'harness', 'workerProcess.js')], {
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      WORKER_TASK_QUEUE: options.taskQueue,
      WORKER_HOME: options.home,
      WORKER_VENV_CACHE: options.venvCache,
      ...(options.grace ? { WORKER_GRACE: options.grace } : {}),
      REFIT_TEST_TEMPORAL_ADDRESS: options.address ?? state.address,
      REFIT_TEST_TEMPORAL_NAMESPACE: state.namespace,
      REFIT_TEST_WORKFLOW_BUNDLE: state.workflowBundlePath,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', log],
  });
  closeSync(log);
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15))));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker-ready')) resolve();
    });
    exited.then((code) => reject(new Error(`the worker process exited (${code}) before it was ready; see ${options.logFile}`)));
  });
  return { child, exited };
}

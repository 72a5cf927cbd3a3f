// A bench worker in a process of its own, so its memory is its own to measure: Refit's worker (the real
// RefitWorker, with a deployment target that does nothing) and a plain worker pair for the bare baseline.
// Configured by environment (see lib/workerProcess.ts; BENCH_BARE_WORKERS=0 leaves the baseline's workers out); stops when its parent closes stdin or on SIGTERM.
import { appendFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { RefitWorker } from '../../worker/createWorker.js';
import { benchDependencies } from '../lib/dependencies.js';
import { noopActivities } from './noopActivities.js';

const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

// The heap in use right after each full collection (what is live, not garbage waiting for one): figure 3 reads it
// to tell memory that grows with the runs in flight from V8 putting its next collection off.
const heapLog = process.env.BENCH_HEAP_LOG;
if (heapLog)
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      if ((entry as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        appendFileSync(heapLog, `${JSON.stringify({ at: Date.now(), used: v8.getHeapStatistics().used_heap_size })}\n`);
  }).observe({ entryTypes: ['gc'] });

Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: ['SIGTERM', 'SIGINT'] });
const taskQueue = need('BENCH_TASK_QUEUE');
const namespace = need('BENCH_NAMESPACE');
const workflowBundle = { codePath: need('BENCH_WORKFLOW_BUNDLE') };
const connection = await NativeConnection.connect({ address: need('BENCH_TEMPORAL_ADDRESS') });
const refit = await RefitWorker.create({
  connection,
  namespace,
  taskQueue,
  dependencies: benchDependencies({
    home: need('BENCH_HOME'),
    hostTaskQueue: `${taskQueue}@bench`,
    python: need('BENCH_PYTHON'),
    venvCacheDir: need('BENCH_VENV_CACHE'),
    deployTarget: process.env.BENCH_DEPLOY_TARGET === 'local' ? 'local' : 'noop',
  }),
  workflowBundle,
  shutdownGraceTime: '5 seconds',
});
// The bare baseline's workers only where a figure compares with it: they have memory of their own.
const bare =
  process.env.BENCH_BARE_WORKERS === '0'
    ? []
    : [
        await Worker.create({ connection, namespace, taskQueue: `${taskQueue}-bare`, workflowBundle, activities: noopActivities }),
        await Worker.create({ connection, namespace, taskQueue: `${taskQueue}-bare@bench`, activities: noopActivities }),
      ];

const stop = () => {
  refit.shutdown();
  for (const worker of bare) if (worker.getState() === 'RUNNING') worker.shutdown();
  // Without the bench (killed) the server is gone too, and a graceful shutdown may wait for it: not for long.
  setTimeout(() => process.exit(1), 10_000).unref();
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

const running = Promise.all([refit.run(), ...bare.map((worker) => worker.run())]);
console.log(`bench-worker-ready ${process.pid}`);
await running;
await connection.close();
process.exit(0);

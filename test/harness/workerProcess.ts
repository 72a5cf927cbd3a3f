// A Refit worker in a process of its own, so durability tests can kill it (SIGKILL, SIGTERM) and
// start another. Configured by environment: REFIT_TEST_TEMPORAL_ADDRESS, REFIT_TEST_TEMPORAL_NAMESPACE,
// REFIT_TEST_WORKFLOW_BUNDLE, WORKER_TASK_QUEUE, WORKER_HOME, WORKER_VENV_CACHE, WORKER_GRACE.
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { RefitWorker } from '../../worker/createWorker.js';
import { defaultDependencies } from '../../worker/dependencies.js';

const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: ['SIGTERM', 'SIGINT'] });
const taskQueue = need('WORKER_TASK_QUEUE');
const connection = await NativeConnection.connect({ address: need('REFIT_TEST_TEMPORAL_ADDRESS') });
const dependencies = await defaultDependencies({ taskQueue, home: need('WORKER_HOME') });
if (process.env.WORKER_VENV_CACHE) dependencies.venvCacheDir = process.env.WORKER_VENV_CACHE;
const worker = await RefitWorker.create({
  connection,
  namespace: need('REFIT_TEST_TEMPORAL_NAMESPACE'),
  taskQueue,
  dependencies,
  workflowBundle: { codePath: need('REFIT_TEST_WORKFLOW_BUNDLE') },
  shutdownGraceTime: process.env.WORKER_GRACE ?? '30 seconds',
});
console.log(`worker-ready ${process.pid}`);
await worker.run();
await connection.close();
console.log(`worker-stopped ${process.pid}`);

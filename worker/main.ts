// The Refit worker for a real Temporal cluster: connects with the standard TEMPORAL_* settings and
// profiles, polls REFIT_TASK_QUEUE (default "refit") and its own host queue until SIGINT/SIGTERM.
import { temporalSettings } from '../platform/temporalSettings.js';
import { connectWorker } from './connection.js';
import { RefitWorker } from './createWorker.js';
import { defaultDependencies } from './dependencies.js';

export async function runWorker(): Promise<void> {
  const settings = temporalSettings();
  const connection = await connectWorker(settings);
  const worker = await RefitWorker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    dependencies: defaultDependencies({ taskQueue: settings.taskQueue }),
  });
  console.log(
    `refit worker: ${settings.connectionOptions.address}, namespace "${settings.namespace}", task queues "${settings.taskQueue}" and "${worker.hostTaskQueue}"`,
  );
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

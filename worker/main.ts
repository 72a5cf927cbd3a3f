// The Refit worker for a real Temporal cluster: connects with the standard TEMPORAL_* settings and
// profiles, polls REFIT_TASK_QUEUE (default "refit") and its own host queue until SIGINT/SIGTERM, on which
// it stops polling and gives running activities the shutdown grace time to finish. As a service it also
// serves the SDK's metrics (REFIT_WORKER_METRICS_ADDRESS) and health endpoints (REFIT_WORKER_HEALTH_ADDRESS).
import { Runtime } from '@temporalio/worker';
import { temporalSettings } from '../platform/temporalSettings.js';
import { connectWorker } from './connection.js';
import { RefitWorker } from './createWorker.js';
import { defaultDependencies } from './dependencies.js';
import { workerSlotSettings } from './workerSlots.js';
import { formatAddress, parseListenAddress, startHealthServer, type WorkerHealth } from './serviceEndpoints.js';

export async function runWorker(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const metrics = env.REFIT_WORKER_METRICS_ADDRESS ? parseListenAddress('REFIT_WORKER_METRICS_ADDRESS', env.REFIT_WORKER_METRICS_ADDRESS) : undefined;
  const healthAddress = env.REFIT_WORKER_HEALTH_ADDRESS ? parseListenAddress('REFIT_WORKER_HEALTH_ADDRESS', env.REFIT_WORKER_HEALTH_ADDRESS) : undefined;
  // Before any connection: the runtime (and its metrics exporter) is made once per process.
  if (metrics) Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: formatAddress(metrics) } } } });
  const settings = temporalSettings();
  const connection = await connectWorker(settings);
  // Read once: the build and clone slots (in the activities) and the queue's step slots come from the same settings.
  const slots = workerSlotSettings(env);
  const worker = await RefitWorker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    dependencies: await defaultDependencies({ taskQueue: settings.taskQueue, slots }),
    slots,
    ...(env.REFIT_WORKER_SHUTDOWN_GRACE_SECONDS ? { shutdownGraceTime: `${shutdownGraceSeconds(env.REFIT_WORKER_SHUTDOWN_GRACE_SECONDS)} seconds` } : {}),
  });
  const health = healthAddress ? await startHealthServer(healthAddress, healthOf(worker)) : undefined;
  console.log(
    `refit worker: ${settings.connectionOptions.address}, namespace "${settings.namespace}", task queues "${settings.taskQueue}" and "${worker.hostTaskQueue}"` +
      (metrics ? `; SDK metrics on http://${formatAddress(metrics)}/metrics` : '') +
      (health ? `; health on http://${formatAddress(health.address)}/livez and /readyz` : '') +
      `; at once: ${slots.builds} builds, ${slots.clones} clones, ${slots.hostSteps} steps of its own queue` +
      (slots.workflowTasks ? `, ${slots.workflowTasks} workflow tasks` : '') +
      `; ${slots.cachedRuns} runs kept in memory`,
  );
  try {
    await worker.run();
  } finally {
    await health?.close();
    await connection.close();
  }
}

function shutdownGraceSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 86_400) {
    throw new Error(`REFIT_WORKER_SHUTDOWN_GRACE_SECONDS must be a whole number of seconds from 0 to 86400, not ${JSON.stringify(value)}`);
  }
  return seconds;
}

/** Both of the worker's pollers (shared and host queue) together: the least healthy one counts. */
function healthOf(worker: RefitWorker): WorkerHealth {
  const order = ['failed', 'stopped', 'draining', 'starting', 'running'] as const;
  const of = (state: string): (typeof order)[number] =>
    state === 'RUNNING' ? 'running' : state === 'INITIALIZED' ? 'starting' : state === 'STOPPED' ? 'stopped' : state === 'FAILED' ? 'failed' : 'draining';
  return () => {
    const states = [of(worker.shared.getState()), of(worker.host.getState())];
    return order.find((state) => states.includes(state))!;
  };
}

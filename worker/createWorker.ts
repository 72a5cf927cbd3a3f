import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDependencies } from '../activities/index.js';
import { activityInterceptors } from './errorClassification.js';
import { workerSlotSettings, type WorkerSlotSettings } from './workerSlots.js';

export interface RefitWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  /** The shared queue: workflows, and the steps any worker may take. */
  taskQueue: string;
  dependencies: ActivityDependencies;
  /** A pre-built bundle (tests bundle once per run); the workflows are bundled from source otherwise. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** How long running activities get to finish on shutdown before they are cancelled. */
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** Slots for steps and workflow tasks (default: REFIT_WORKER_*_SLOTS, else what fits the machine). */
  slots?: WorkerSlotSettings;
  /** Activities registered beside Refit's own (tests register the smoke test's). */
  extraActivities?: Record<string, (...args: never[]) => Promise<unknown>>;
}

export const workflowsPath = fileURLToPath(new URL('../workflows/index.js', import.meta.url));

/**
 * A Refit worker is two Temporal workers in one process: one on the shared task queue (workflows and
 * the steps any machine can take) and one on this machine's own queue (clone, build, deploy: the steps
 * that use the files of a build, which only this machine has).
 */
export class RefitWorker {
  private constructor(
    readonly shared: Worker,
    readonly host: Worker,
  ) {}

  static async create(options: RefitWorkerOptions): Promise<RefitWorker> {
    const activities = { ...createActivities(options.dependencies), ...options.extraActivities };
    const common = {
      connection: options.connection,
      namespace: options.namespace,
      activities,
      interceptors: { activity: [activityInterceptors] },
      shutdownGraceTime: options.shutdownGraceTime ?? '30 seconds',
      // A heartbeat is also how a running activity learns that its run was cancelled: by default the SDK sends
      // them at most every 24 s (80% of the heartbeat timeout), so a cancelled build Job would run on that long.
      maxHeartbeatThrottleInterval: '2 seconds',
    };
    const slots = options.slots ?? workerSlotSettings(process.env);
    const shared = await Worker.create({
      ...common,
      taskQueue: options.taskQueue,
      ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
      ...(slots.workflowTasks ? { maxConcurrentWorkflowTaskExecutions: slots.workflowTasks } : {}),
      maxCachedWorkflows: slots.cachedRuns,
    });
    // Steps beyond these stay queued in Temporal, where any worker of the queue (after a restart, this one) takes them.
    const host = await Worker.create({ ...common, taskQueue: options.dependencies.hostTaskQueue, maxConcurrentActivityTaskExecutions: slots.hostSteps });
    return new RefitWorker(shared, host);
  }

  get hostTaskQueue(): string {
    return this.host.options.taskQueue;
  }

  getState(): ReturnType<Worker['getState']> {
    return this.shared.getState();
  }

  /** Polls both queues until shutdown() (or a shutdown signal the SDK's runtime handles). */
  async run(): Promise<void> {
    await Promise.all([this.shared.run(), this.host.run()]);
  }

  shutdown(): void {
    for (const worker of [this.shared, this.host]) if (worker.getState() === 'RUNNING') worker.shutdown();
  }

  /** Runs until `until` settles, then shuts down and waits for both workers to stop. */
  async runUntil<T>(until: Promise<T>): Promise<T> {
    const running = this.run();
    const stoppedEarly = running.then(() => {
      throw new Error('the worker stopped before the awaited work finished');
    });
    try {
      return await Promise.race([until, stoppedEarly]);
    } finally {
      this.shutdown();
      await running.catch(() => undefined);
    }
  }
}

import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import type { ActivityDependencies } from '../../activities/index.js';
import { RefitWorker } from '../../worker/createWorker.js';
import { defaultDependencies } from '../../worker/dependencies.js';
import { readRunState } from './runState.js';

/** A task queue no other test uses, so workers of different tests never steal each other's tasks. */
export function uniqueTaskQueue(label: string): string {
  return `test-${label.replace(/[^a-zA-Z0-9-]/g, '-')}-${randomUUID().slice(0, 8)}`;
}

/** Client and worker connections to the run's dev server; close() in afterAll. */
export async function connectToTestServer() {
  quietSdkLogs();
  const state = readRunState();
  const connection = await Connection.connect({ address: state.address });
  const nativeConnection = await NativeConnection.connect({ address: state.address });
  const client = new Client({ connection, namespace: state.namespace });
  return {
    client,
    nativeConnection,
    namespace: state.namespace,
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/**
 * A worker running the real workflow code (bundled once per run) and real activities on its own queues.
 * Its state lives under `home` (a throwaway folder of the test), unless dependencies are given.
 */
export async function createTestWorker(options: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  home?: string;
  dependencies?: Partial<ActivityDependencies>;
}): Promise<RefitWorker> {
  const describeWorker = async () => ({ hostname: os.hostname(), pid: process.pid, node: process.version });
  const home = options.home ?? path.join(readRunState().stateDir, 'homes', options.taskQueue);
  return RefitWorker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    dependencies: { ...(await defaultDependencies({ taskQueue: options.taskQueue, home })), ...options.dependencies },
    workflowBundle: { codePath: readRunState().workflowBundlePath },
    shutdownGraceTime: '5 seconds',
    extraActivities: { describeWorker },
  });
}

declare global {
  var refitCapturedLogs: { level: string; message: string; meta?: unknown }[] | undefined;
}

/**
 * Everything the SDK logs in this test process is kept (tests check that no secret ever reaches a log);
 * only errors are printed (tests fail runs on purpose), unless REFIT_TEST_LOG_LEVEL asks for more.
 */
function quietSdkLogs(): void {
  globalThis.refitCapturedLogs ??= [];
  const captured = globalThis.refitCapturedLogs;
  const printed = new DefaultLogger((process.env.REFIT_TEST_LOG_LEVEL ?? 'ERROR') as LogLevel);
  try {
    Runtime.install({
      logger: new DefaultLogger('DEBUG', (entry) => {
        captured.push({ level: entry.level, message: entry.message, meta: entry.meta });
        printed.log(entry.level, entry.message, entry.meta);
      }),
    });
  } catch {
    // Already installed by an earlier test file in this jest worker process.
  }
}

/** What the SDK logged in this process so far (workflow and activity logs of workers made here). */
export function capturedLogs(): string {
  return JSON.stringify(globalThis.refitCapturedLogs ?? []);
}

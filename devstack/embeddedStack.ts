import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { DEFAULT_TASK_QUEUE } from '../shared/names.js';
import { RefitWorker } from '../worker/createWorker.js';
import { defaultDependencies } from '../worker/dependencies.js';
import { preferredOrFreePort } from '../platform/freePort.js';
import { refitHome } from '../platform/paths.js';
import { startDevServer } from './temporalDevServer.js';

export interface EmbeddedServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  logFile: string;
}

export interface EmbeddedStack {
  server: EmbeddedServer;
  /** False when the stack attached to a dev server another Refit process had already started. */
  ownsServer: boolean;
  client: Client;
  worker: RefitWorker;
  taskQueue: string;
  /** Stops the worker (if running), closes connections and stops the server if this stack started it. */
  stop(): Promise<void>;
}

const STATE_NAME = 'dev';

function stateDir(): string {
  return path.join(refitHome(), STATE_NAME);
}

/** The running server recorded by another Refit process, if that process is still alive. */
function runningServer(): EmbeddedServer | undefined {
  try {
    const recorded = JSON.parse(readFileSync(path.join(stateDir(), 'server.json'), 'utf8')) as EmbeddedServer & { pid: number };
    process.kill(recorded.pid, 0);
    return recorded;
  } catch {
    return undefined;
  }
}

/**
 * Everything Refit needs on one machine: the Temporal dev server (SQLite file under $REFIT_HOME/dev, so
 * runs survive restarts and the Web UI shows earlier runs) and a worker. When another Refit process
 * (say `make dev`) already serves that state, this attaches to it instead of starting a second server.
 */
export async function startEmbeddedStack(options: { taskQueue?: string; home?: string } = {}): Promise<EmbeddedStack> {
  const dir = stateDir();
  let server: EmbeddedServer | undefined = runningServer();
  let stopServer = async (): Promise<void> => undefined;
  const ownsServer = !server;
  if (!server) {
    const started = await startDevServer({
      dbFile: path.join(dir, 'temporal.sqlite'),
      stateDir: dir,
      port: await preferredOrFreePort(7233),
      uiPort: await preferredOrFreePort(8233),
    });
    const record = path.join(dir, 'server.json');
    const { stop, ...described } = started;
    writeFileSync(record, JSON.stringify({ ...described, pid: process.pid }, null, 2));
    server = described;
    stopServer = async () => {
      rmSync(record, { force: true });
      await stop();
    };
  }
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
  const worker = await RefitWorker.create({
    connection: nativeConnection,
    namespace: server.namespace,
    taskQueue,
    dependencies: defaultDependencies({ taskQueue, webUiUrl: server.uiUrl, home: options.home }),
  });
  return {
    server,
    ownsServer,
    client,
    worker,
    taskQueue,
    async stop() {
      worker.shutdown();
      await connection.close();
      await nativeConnection.close().catch(() => undefined);
      await stopServer();
    },
  };
}

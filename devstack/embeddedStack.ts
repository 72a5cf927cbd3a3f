import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { DEFAULT_TASK_QUEUE } from '../shared/names.js';
import { RefitWorker } from '../worker/createWorker.js';
import { defaultDependencies } from '../worker/dependencies.js';
import { portInUse, preferredOrFreePort } from '../platform/freePort.js';
import { DEV_SERVER_RECORD, DEV_STATE_DIR, runningDevServer } from '../platform/devStackRecord.js';
import { describeHolder, portHolder } from '../platform/portHolder.js';
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

function stateDir(): string {
  return path.join(refitHome(), DEV_STATE_DIR);
}

/**
 * `refit dev`'s ports: REFIT_DEV_PORT and REFIT_DEV_UI_PORT (default 7233 and 8233), taken or refused. A stack
 * that moved to another port would leave the CLI talking to whatever holds the default one.
 */
async function strictPort(variable: string, fallback: number, what: string): Promise<number> {
  const text = process.env[variable];
  const port = text ? Number(text) : fallback;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${variable}=${JSON.stringify(text)} is not a port (1-65535)`);
  if (await portInUse(port)) {
    throw new Error(
      `port ${port} (${what}) is taken by ${describeHolder(portHolder(port))}: stop it, or give this stack other ports with ${variable}` +
        ' (each Refit home, REFIT_HOME, has its own stack; commands with that home find it)',
    );
  }
  return port;
}

/**
 * Everything Refit needs on one machine: the Temporal dev server (SQLite file under $REFIT_HOME/dev, so
 * runs survive restarts and the Web UI shows earlier runs) and a worker. When another Refit process
 * (say `make dev`) already serves that state, this attaches to it instead of starting a second server.
 */
export async function startEmbeddedStack(options: { taskQueue?: string; home?: string; strictPorts?: boolean } = {}): Promise<EmbeddedStack> {
  const dir = stateDir();
  let server: EmbeddedServer | undefined = runningDevServer();
  let stopServer = async (): Promise<void> => undefined;
  const ownsServer = !server;
  if (!server) {
    const started = await startDevServer({
      dbFile: path.join(dir, 'temporal.sqlite'),
      stateDir: dir,
      port: options.strictPorts ? await strictPort('REFIT_DEV_PORT', 7233, 'Temporal') : await preferredOrFreePort(7233),
      uiPort: options.strictPorts ? await strictPort('REFIT_DEV_UI_PORT', 8233, 'the Web UI') : await preferredOrFreePort(8233),
    });
    const record = path.join(dir, DEV_SERVER_RECORD);
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
    dependencies: await defaultDependencies({ taskQueue, webUiUrl: server.uiUrl, home: options.home }),
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

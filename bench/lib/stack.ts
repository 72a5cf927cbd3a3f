// The real parts every figure runs against, started once per bench run and stopped at its end: a
// Temporal dev server, the bench workflows bundled once, a client, a token-checking git server serving
// the tiny model, and a throwaway Refit home holding the token as a secret.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { startGitServer, type GitServer } from '../../devstack/gitServer.js';
import { temporalCliPath } from '../../devstack/temporalCli.js';
import { startDevServer, type DevServer } from '../../devstack/temporalDevServer.js';
import { onCleanup } from './cleanup.js';
import { RpcCounter } from '../../test/harness/rpcCounter.js';
import { writeTinyModel } from './tinyModel.js';
import { startWorkerProcess, type WorkerProcess } from './workerProcess.js';

const run = promisify(execFile);
const benchWorkflowsPath = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
const GIT_TOKEN = 'bench-token-5d0c2e91a7f34b6e';

export interface BenchStack {
  /** Throwaway folder of this bench run (generated data, homes, logs); removed at the end. */
  stateDir: string;
  server: DevServer;
  temporalBin: string;
  workflowBundlePath: string;
  client: Client;
  rpc: RpcCounter;
  git: GitServer;
  /** The tiny model's repository on the git server. */
  tinyRepositoryUrl: string;
  /** Refit home of the bench's workers and direct runs (its secret store holds git_token). */
  home: string;
  venvCacheDir: string;
  /** The home's builds folder: each tiny build writes its start times into <build id>/out/bench-stamp.json. */
  stampDir: string;
  /** The Python interpreter itself (not a version manager's shim), so builds do not pay for the shim. */
  python: string;
  /** Another dev server with a counting client, for a figure that must not share the main one; stop() when done. */
  startSeparateServer(label: string): Promise<CountedServer>;
  /** A bench worker process on the task queue bench-<label>; with the bare baseline's workers unless told otherwise. */
  startWorker(label: string, options?: { bareWorkers?: boolean; deployTarget?: 'noop' | 'local' }): Promise<WorkerProcess>;
}

export interface CountedServer {
  server: DevServer;
  client: Client;
  rpc: RpcCounter;
  stop(): Promise<void>;
}

/** A dev server (tethered to this process) and a client whose gRPC calls are counted. */
async function startCountedServer(stateDir: string, what: string): Promise<CountedServer> {
  const server = await startDevServer({ dbFile: path.join(stateDir, 'temporal.sqlite'), stateDir, headless: true });
  const stopServer = onCleanup(what, () => server.stop());
  const rpc = new RpcCounter();
  const connection = await Connection.connect({ address: server.address, interceptors: rpc.interceptors() });
  const closeClient = onCleanup(`the client of ${what}`, () => connection.close());
  const client = new Client({ connection, namespace: server.namespace });
  return {
    server,
    client,
    rpc,
    async stop() {
      await closeClient();
      await stopServer();
    },
  };
}

export async function startStack(options: { keepState?: boolean } = {}): Promise<BenchStack> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'refit-bench-'));
  if (!options.keepState) onCleanup('the bench state folder', () => rmSync(stateDir, { recursive: true, force: true }));
  const temporalBin = await temporalCliPath();
  const [{ server, client, rpc }, bundle] = await Promise.all([
    startCountedServer(path.join(stateDir, 'temporal'), 'the Temporal dev server'),
    bundleWorkflowCode({ workflowsPath: benchWorkflowsPath, logger: new DefaultLogger('WARN') }),
  ]);
  const workflowBundlePath = path.join(stateDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);

  const git = await startGitServer(GIT_TOKEN);
  onCleanup('the git server', () => git.stop());
  await git.publish('tiny', writeTinyModel(path.join(stateDir, 'tiny-model')));

  const home = path.join(stateDir, 'home');
  await new LocalSecretStore(path.join(home, 'secrets')).set('git_token', GIT_TOKEN);
  // Each build writes its start times into its own output folder (bench-stamp.json), which a confined build may write.
  const stampDir = path.join(home, 'builds');
  const logDir = path.join(stateDir, 'logs');
  mkdirSync(stampDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const python = await realPython(process.env.REFIT_PYTHON ?? 'python3');
  const venvCacheDir = path.join(stateDir, 'venvs');

  return {
    stateDir,
    server,
    temporalBin,
    workflowBundlePath,
    client,
    rpc,
    git,
    tinyRepositoryUrl: `${git.url}/tiny.git`,
    home,
    venvCacheDir,
    stampDir,
    python,
    startSeparateServer: (label) => startCountedServer(path.join(stateDir, `temporal-${label}`), `the ${label} dev server`),
    startWorker: (label, workerOptions = {}) =>
      startWorkerProcess({
        address: server.address,
        namespace: server.namespace,
        workflowBundlePath,
        taskQueue: `bench-${label}`,
        home,
        python,
        venvCacheDir,
        logFile: path.join(logDir, `worker-${label}.log`),
        bareWorkers: workerOptions.bareWorkers ?? true,
        deployTarget: workerOptions.deployTarget,
      }),
  };
}

async function realPython(python: string): Promise<string> {
  const { stdout } = await run(python, ['-c', 'import sys; print(sys.executable)']);
  return stdout.trim();
}

// A real, throwaway MLflow tracking server for one test file: its own SQLite store, artifact folder and port,
// tethered to the test process so that it dies with it (even on SIGKILL) and its folder is removed.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../platform/freePort.js';
import { spawnTethered } from '../../platform/tethered.js';
import { hasExited, logTail } from '../../platform/processes.js';
import { runInstaller } from '../../devstack/installers.js';
import { readRunState } from './runState.js';

// MLflow migrates a fresh database and imports a large web app before it listens: seconds, more on a busy machine.
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export interface TestMlflow {
  /** http://127.0.0.1:<port>, no credentials. */
  trackingUri: string;
  /** The Python of MLflow's venv: tests run MLflow's own client with it, as model code would. */
  python: string;
  /** Stops the server; resolves once it is gone and its folder removed. */
  stop(): Promise<void>;
}

export interface MlflowServerOptions {
  /** Run MLflow's basic-auth app, with this user as its admin: every request then needs these credentials. */
  basicAuth?: { username: string; password: string };
}

export async function startMlflow(options: MlflowServerOptions = {}): Promise<TestMlflow> {
  const mlflow = await mlflowExecutable();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'refit-mlflow-'));
  let tether: ChildProcess | undefined;
  try {
    const port = await freePort();
    const auth = options.basicAuth ? authSettings(dir, options.basicAuth) : undefined;
    const args = [
      'server',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      // One worker: this machine has two cores, and the tests send a handful of requests.
      '--workers',
      '1',
      '--backend-store-uri',
      `sqlite:///${path.join(dir, 'mlflow.db')}`,
      '--artifacts-destination',
      path.join(dir, 'artifacts'),
      ...(auth ? ['--app-name', 'basic-auth'] : []),
    ];
    // The log goes to the test run's own folder, not the throwaway one: the tether removes that as soon as
    // the server exits, before a failed start-up could show why. The run's folder goes when the run ends.
    const logFile = path.join(readRunState().stateDir, `mlflow-${port}.log`);
    tether = spawnTethered(logFile, mlflow, args, {
      cwd: dir,
      removeOnExit: dir,
      env: {
        ...withoutMlflowSettings(process.env),
        // Off: the GenAI job runner would add seven worker processes and a folder in /dev/shm the tether cannot remove.
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
        // The auth app signs its CSRF tokens with this key and refuses to start without one.
        ...(auth ? { MLFLOW_AUTH_CONFIG_PATH: auth.configFile, MLFLOW_FLASK_SERVER_SECRET_KEY: randomBytes(16).toString('hex') } : {}),
      },
    });
    const log = () => logTail(logFile);
    const trackingUri = `http://127.0.0.1:${port}`;
    await waitUntilAnswering(trackingUri, auth?.header, tether, log);
    const server = tether;
    return { trackingUri, python: path.join(path.dirname(mlflow), 'python'), stop: () => stopServer(server) };
  } catch (err) {
    if (tether) await stopServer(tether);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The `mlflow` executable from scripts/install-mlflow.sh (instant once installed). */
function mlflowExecutable(): Promise<string> {
  return runInstaller('install-mlflow.sh', 'an MLflow tracking server is needed for these tests');
}

/** The auth app's settings file: its user store in the throwaway folder, the given user as admin. */
function authSettings(dir: string, user: { username: string; password: string }): { configFile: string; header: string } {
  const configFile = path.join(dir, 'basic_auth.ini');
  writeFileSync(
    configFile,
    [
      '[mlflow]',
      'default_permission = READ',
      `database_uri = sqlite:///${path.join(dir, 'basic_auth.db')}`,
      `admin_username = ${user.username}`,
      `admin_password = ${user.password}`,
      'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { configFile, header: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}` };
}

/** A developer's own MLFLOW_TRACKING_URI (or similar) must not point the throwaway server elsewhere. */
function withoutMlflowSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('MLFLOW_')));
}

/** Ready means the tracking API answers, not just that the port is open. */
async function waitUntilAnswering(trackingUri: string, authorization: string | undefined, tether: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    if (hasExited(tether)) throw new Error(`the MLflow server exited during start-up; its log ends with:\n${log()}`);
    try {
      const response = await fetch(`${trackingUri}/api/2.0/mlflow/experiments/search?max_results=1`, {
        headers: authorization ? { authorization } : {},
        signal: AbortSignal.timeout(2_000),
      });
      if (response.ok) return;
      lastError = `HTTP ${response.status}`;
    } catch (err) {
      lastError = ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the MLflow server did not answer on ${trackingUri} within ${START_TIMEOUT_MS} ms (${lastError}); its log ends with:\n${log()}`);
}

/** The tether's SIGTERM reaches `mlflow server`, which passes it on to its uvicorn process. */
async function stopServer(tether: ChildProcess): Promise<void> {
  if (hasExited(tether)) return;
  const gone = new Promise<void>((resolve) => tether.once('exit', () => resolve()));
  tether.kill('SIGTERM');
  const timer = setTimeout(() => tether.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await gone;
  clearTimeout(timer);
}

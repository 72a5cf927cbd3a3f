// Where `refit dev` (or `make dev`) of a Refit home serves Temporal: it records its server in $REFIT_HOME/dev/
// server.json while it runs, so every refit command with that home talks to that stack, not to whatever answers
// on the default port.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { refitHome } from './paths.js';

export const DEV_STATE_DIR = 'dev';
export const DEV_SERVER_RECORD = 'server.json';

export interface DevServerRecord {
  address: string;
  namespace: string;
  uiUrl?: string;
  logFile: string;
  /** The process that owns the server; the record counts only while it lives. */
  pid: number;
}

export function devServerRecordFile(home = refitHome()): string {
  return path.join(home, DEV_STATE_DIR, DEV_SERVER_RECORD);
}

/** The dev stack of this home, when one runs. */
export function runningDevServer(home = refitHome()): DevServerRecord | undefined {
  try {
    const recorded = JSON.parse(readFileSync(devServerRecordFile(home), 'utf8')) as DevServerRecord;
    process.kill(recorded.pid, 0);
    return recorded;
  } catch {
    return undefined;
  }
}

/** `refit dev`'s git server: the example model repository, behind the home's secret dev_git_token. */
export const DEV_GIT_SECRET = 'dev_git_token';
export const DEV_GIT_REPOSITORY = 'examples';
export const DEFAULT_DEV_GIT_PORT = 8235;
/** The example model's folder in that repository. */
export const EXAMPLE_MODEL_FOLDER = 'models/breast_cancer';

export function devGitPort(env: NodeJS.ProcessEnv = process.env): number {
  const port = env.REFIT_DEV_GIT_PORT ? Number(env.REFIT_DEV_GIT_PORT) : DEFAULT_DEV_GIT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`REFIT_DEV_GIT_PORT=${JSON.stringify(env.REFIT_DEV_GIT_PORT)} is not a port (1-65535)`);
  return port;
}

/** The repository address `refit init` writes, whether or not the server runs now. */
export function devGitRepository(env: NodeJS.ProcessEnv = process.env): string {
  return `http://127.0.0.1:${devGitPort(env)}/${DEV_GIT_REPOSITORY}.git`;
}

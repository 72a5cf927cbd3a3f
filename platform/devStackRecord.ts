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

// Runs one command for as long as the process that started it lives.
// Usage: node tether.js <logFile> <command> [args...]   (the parent keeps our stdin open)
// When our stdin closes (the parent exited, even by SIGKILL) or we get SIGTERM/SIGINT, the command
// gets SIGTERM, then SIGKILL after a grace time. This is what keeps servers from outliving test runs.
// REFIT_TETHER_REMOVE_ON_EXIT names a throwaway folder to delete once the command is gone.
// REFIT_TETHER_UID / REFIT_TETHER_GID run the command as another user (PostgreSQL refuses to run as root).
import { spawn } from 'node:child_process';
import { openSync, rmSync } from 'node:fs';
import { constants } from 'node:os';

const GRACE_MS = 5_000;
const [logFile, command, ...args] = process.argv.slice(2);
if (!logFile || !command) {
  console.error('usage: tether <logFile> <command> [args...]');
  process.exit(2);
}

function numericId(variable: string, value: string): number {
  if (!/^\d+$/.test(value)) {
    console.error(`tether: ${variable} must be a numeric id, not "${value}"`);
    process.exit(2);
  }
  return Number(value);
}

const log = openSync(logFile, 'a');
const {
  REFIT_TETHER_REMOVE_ON_EXIT: _notForTheChild,
  REFIT_TETHER_UID: uid,
  REFIT_TETHER_GID: gid,
  ...childEnv
} = process.env;
const child = spawn(command, args, {
  stdio: ['ignore', log, log],
  env: childEnv,
  ...(uid ? { uid: numericId('REFIT_TETHER_UID', uid) } : {}),
  ...(gid ? { gid: numericId('REFIT_TETHER_GID', gid) } : {}),
});
let stopping = false;

function stop(): void {
  if (stopping) return;
  stopping = true;
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), GRACE_MS).unref();
}

child.on('error', (err) => {
  console.error(`tether: cannot start ${command}: ${err.message}`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  const throwaway = process.env.REFIT_TETHER_REMOVE_ON_EXIT;
  if (throwaway) rmSync(throwaway, { recursive: true, force: true });
  // Killed by a signal: exit 128 + its number, as shells report it (137 for SIGKILL).
  process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0));
});
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGHUP', stop);

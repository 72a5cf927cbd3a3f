// Runs one command for as long as the process that started it lives.
// Usage: node tether.js <logFile> <command> [args...], with the parent holding our stdin open; the first
// line on stdin is this run's options as JSON (see TetherOptions in tethered.ts). Options come through
// stdin, never the environment: the environment is the command's own, and may be written by people who
// must not steer the tether (a build's env_vars).
// When our stdin closes (the parent exited, even by SIGKILL) or we get SIGTERM/SIGINT, the command gets
// SIGTERM, then SIGKILL after a grace time. This is what keeps servers and builds from outliving their owner.
import { spawn } from 'node:child_process';
import { openSync, rmSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import type { TetherOptions } from './tethered.js';
import { maskOutputOf } from './secretMask.js';
import { readJsonLineFromStdin } from './processes.js';

const GRACE_MS = 5_000;
const [logFile, command, ...args] = process.argv.slice(2);
if (!logFile || !command) {
  console.error('usage: tether <logFile> <command> [args...]   (options as one JSON line on stdin)');
  process.exit(2);
}

let stopping = false;
let child: ReturnType<typeof spawn> | undefined = undefined;
let parentGone = false;

function stop(): void {
  if (stopping) return;
  stopping = true;
  if (!child) process.exit(143);
  child.kill('SIGTERM');
  setTimeout(() => child?.kill('SIGKILL'), GRACE_MS).unref();
}

function readOptions(): Promise<TetherOptions> {
  return readJsonLineFromStdin<TetherOptions>().catch(() => {
    console.error('tether: the first line on stdin must be the options as JSON');
    process.exit(2);
  });
}

process.stdin.on('end', () => ((parentGone = true), stop()));
process.stdin.on('close', () => ((parentGone = true), stop()));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGHUP', stop);

const options = await readOptions();
process.stdin.resume();
if (parentGone) stop();

const log = openSync(logFile, 'a');
const masked = (options.mask ?? []).filter(Boolean);
const masking = masked.length > 0;
child = spawn(command, args, {
  stdio: ['ignore', masking ? 'pipe' : log, masking ? 'pipe' : log],
  env: options.env ?? {},
  ...(options.uid !== undefined ? { uid: options.uid } : {}),
  ...(options.gid !== undefined ? { gid: options.gid } : {}),
});
// Output that may print a secret goes through the mask: only masked text reaches the log.
if (masking) maskOutputOf(child, masked, (text) => writeSync(log, text));
if (stopping) stop();

child.on('error', (err) => {
  console.error(`tether: cannot start ${command}: ${err.message}`);
  process.exit(127);
});
child.on(masking ? 'close' : 'exit', (code: number | null, signal: NodeJS.Signals | null) => {
  if (options.removeOnExit) rmSync(options.removeOnExit, { recursive: true, force: true });
  // Killed by a signal: exit 128 + its number, as shells report it (137 for SIGKILL).
  process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0));
});

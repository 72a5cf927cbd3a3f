import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, openSync, closeSync, readSync, statSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { maskOutputOf } from '../../platform/secretMask.js';
import { spawnTethered } from '../../platform/tethered.js';

export interface LoggedRun {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Output (stdout and stderr) is appended here as it comes. */
  logFile: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called about once a second with the lines written since the last call. */
  onLines?: (lines: string[]) => void;
  /** Values the command might print that must never reach the log (secrets it was given). */
  mask?: string[];
  /**
   * The command ends by itself when this process does: a sandbox started with bubblewrap's
   * --die-with-parent (the kernel's parent-death signal). It is then started directly rather than through
   * the tether, a Node process of its own that costs about 90 ms and as much CPU per command.
   */
  diesWithParent?: boolean;
}

export interface LoggedRunResult {
  exitCode: number | null;
  /** The process ended by a signal (the tether reports that as an exit code of 128 or more). */
  killed: boolean;
  timedOut: boolean;
  cancelled: boolean;
}

/** How long a command asked to stop (timeout, cancellation) has before it is killed. */
const STOP_GRACE_MS = 5_000;

/**
 * Runs a command with its output appended to a log file, through the tether unless it dies with its parent
 * on its own: if the worker process dies (even by SIGKILL), the command is stopped too, instead of running
 * on unowned. The log stays on disk, so it can be read after the fact (`refit logs`).
 */
export function runLogged(run: LoggedRun): Promise<LoggedRunResult> {
  return new Promise((resolve, reject) => {
    let offset = safeSize(run.logFile);
    let partial = '';
    const drain = (): void => {
      const size = safeSize(run.logFile);
      if (size <= offset) return;
      const fd = openSync(run.logFile, 'r');
      try {
        const buffer = Buffer.alloc(size - offset);
        readSync(fd, buffer, 0, buffer.length, offset);
        offset = size;
        const text = partial + buffer.toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        if (lines.length) run.onLines?.(lines);
      } finally {
        closeSync(fd);
      }
    };
    const secrets = (run.mask ?? []).filter(Boolean);
    const child = run.diesWithParent
      ? spawnDirect(run, secrets)
      : spawnTethered(run.logFile, run.command, run.args, { cwd: run.cwd, env: run.env, mask: run.mask, stderr: 'pipe' });
    let tetherErrors = '';
    if (!run.diesWithParent) child.stderr!.on('data', (chunk: Buffer) => (tetherErrors += chunk.toString()));
    let timedOut = false;
    let cancelled = false;
    const running = (): boolean => child.exitCode === null && child.signalCode === null;
    const stop = (): void => {
      if (!running()) return;
      child.kill('SIGTERM');
      // The tether kills after its grace time itself; a command started directly is killed from here.
      if (run.diesWithParent) setTimeout(() => running() && child.kill('SIGKILL'), STOP_GRACE_MS).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, run.timeoutMs);
    const onAbort = (): void => {
      cancelled = true;
      stop();
    };
    run.signal?.addEventListener('abort', onAbort, { once: true });
    const poll = setInterval(drain, 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      clearInterval(poll);
      reject(err);
    });
    // A masked command's output is in the log once its pipes have closed; otherwise it wrote there itself.
    child.on(run.diesWithParent && secrets.length ? 'close' : 'exit', (exitCode: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      clearInterval(poll);
      run.signal?.removeEventListener('abort', onAbort);
      drain();
      if (partial) run.onLines?.([partial]);
      if (exitCode === 127 && tetherErrors) {
        reject(new Error(tetherErrors.trim()));
        return;
      }
      // Killed by a signal: 128 + its number, as the tether and shells report it (137 for SIGKILL).
      const code = exitCode ?? (signal ? 128 + constants.signals[signal] : null);
      resolve({ exitCode: code, killed: code !== null && code >= 128, timedOut, cancelled });
    });
  });
}

/** The command started by this process, its output appended to the log (through the mask where it has secrets). */
function spawnDirect(run: LoggedRun, secrets: string[]): ChildProcess {
  const log = openSync(run.logFile, 'a');
  if (!secrets.length) {
    try {
      return spawn(run.command, run.args, { cwd: run.cwd, env: run.env, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log); // the child has its own copy
    }
  }
  const child = spawn(run.command, run.args, { cwd: run.cwd, env: run.env, stdio: ['ignore', 'pipe', 'pipe'] });
  maskOutputOf(child, secrets, (text) => writeSync(log, text));
  // After the mask's own 'close' handler, which writes the last of the output.
  let open = true;
  const closeLog = (): void => {
    if (open) closeSync(log);
    open = false;
  };
  child.on('close', closeLog);
  child.on('error', closeLog);
  return child;
}

function safeSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    appendFileSync(file, '');
    return 0;
  }
}

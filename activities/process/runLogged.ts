import { appendFileSync, openSync, closeSync, readSync, statSync } from 'node:fs';
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
}

export interface LoggedRunResult {
  exitCode: number | null;
  /** The process ended by a signal (the tether reports that as an exit code of 128 or more). */
  killed: boolean;
  timedOut: boolean;
  cancelled: boolean;
}

/**
 * Runs a command with its output appended to a log file, through the tether: if the worker process dies
 * (even by SIGKILL), the command is stopped too, instead of running on unowned. The log stays on disk,
 * so it can be read after the fact (`refit logs`).
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
    const child = spawnTethered(run.logFile, run.command, run.args, { cwd: run.cwd, env: run.env, mask: run.mask, stderr: 'pipe' });
    let tetherErrors = '';
    child.stderr!.on('data', (chunk: Buffer) => (tetherErrors += chunk.toString()));
    let timedOut = false;
    let cancelled = false;
    const stop = (): void => {
      if (child.exitCode === null) child.kill('SIGTERM');
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
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      run.signal?.removeEventListener('abort', onAbort);
      drain();
      if (partial) run.onLines?.([partial]);
      if (code === 127 && tetherErrors) {
        reject(new Error(tetherErrors.trim()));
        return;
      }
      resolve({ exitCode: code, killed: code !== null && code >= 128, timedOut, cancelled });
    });
  });
}

function safeSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    appendFileSync(file, '');
    return 0;
  }
}

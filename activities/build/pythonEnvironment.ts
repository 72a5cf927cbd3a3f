import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { logTail } from '../../platform/processes.js';
import { acquireLock } from '../process/fileLock.js';
import { runLogged } from '../process/runLogged.js';

const run = promisify(execFile);

export interface PythonEnvironmentRequest {
  python: string;
  /** requirements.txt or pyproject.toml; none: a bare environment. */
  dependencyFile?: string;
  /** Folder holding the cached environments ($REFIT_HOME/venvs). */
  cacheDir: string;
  env: Record<string, string>;
  logFile: string;
  timeoutMs: number;
  signal?: AbortSignal;
  onLines?: (lines: string[]) => void;
}

export interface PythonEnvironment {
  /** The environment's python executable. */
  python: string;
  dir: string;
  /** True when an existing environment was used as it was, with nothing installed. */
  reused: boolean;
}

const COMPLETE_MARKER = '.refit-complete';

/**
 * A virtual environment with the model's dependencies, cached by the hash of the interpreter version and
 * the dependency file, so the second build of an unchanged model installs nothing. Environments are
 * finished before they are marked complete, and concurrent builds of the same key wait for each other.
 */
export async function ensurePythonEnvironment(request: PythonEnvironmentRequest): Promise<PythonEnvironment> {
  const { stdout: version } = await run(request.python, ['--version']);
  const hash = createHash('sha256').update(version.trim()).update('\0');
  if (request.dependencyFile) hash.update(path.basename(request.dependencyFile)).update('\0').update(readFileSync(request.dependencyFile));
  const dir = path.join(request.cacheDir, hash.digest('hex').slice(0, 16));
  const python = path.join(dir, 'bin', 'python');
  mkdirSync(request.cacheDir, { recursive: true });
  if (existsSync(path.join(dir, COMPLETE_MARKER))) return { python, dir, reused: true };
  const release = await acquireLock(`${dir}.lock`, request.timeoutMs, 'another build installing the same environment');
  try {
    if (existsSync(path.join(dir, COMPLETE_MARKER))) return { python, dir, reused: true };
    rmSync(dir, { recursive: true, force: true });
    await step(request, [request.python, '-m', 'venv', dir], 'creating the virtual environment');
    if (request.dependencyFile) {
      const what = request.dependencyFile.endsWith('.toml') ? [path.dirname(request.dependencyFile)] : ['-r', request.dependencyFile];
      await step(request, [python, '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', ...what], `installing ${path.basename(request.dependencyFile)}`);
    }
    writeFileSync(path.join(dir, COMPLETE_MARKER), new Date().toISOString());
    return { python, dir, reused: false };
  } finally {
    release();
  }
}

async function step(request: PythonEnvironmentRequest, [command, ...args]: string[], what: string): Promise<void> {
  const result = await runLogged({
    command: command!,
    args,
    cwd: request.cacheDir,
    env: request.env,
    logFile: request.logFile,
    timeoutMs: request.timeoutMs,
    signal: request.signal,
    onLines: request.onLines,
  });
  if (result.exitCode === 0) return;
  const tail = logTail(request.logFile, 15);
  if (/No matching distribution|Could not find a version|Invalid requirement|ResolutionImpossible|Could not open requirements file/i.test(tail)) {
    throw new RefitError(ErrorTypes.DependencyInstallFailed, `${what} failed: fix the dependency file (${request.dependencyFile}). pip said:\n${lastMeaningful(tail)}`);
  }
  // Network and index hiccups pass: the activity retries.
  throw new Error(`${what} failed (exit ${result.exitCode}${result.timedOut ? ', timed out' : ''}):\n${lastMeaningful(tail)}`);
}

function lastMeaningful(tail: string): string {
  return tail.split('\n').filter((line) => /error|ERROR|No matching|Could not/.test(line)).slice(-3).join('\n') || tail.split('\n').slice(-3).join('\n');
}

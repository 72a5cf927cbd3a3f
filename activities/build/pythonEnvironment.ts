import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { logTail } from '../../platform/processes.js';
import { acquireLock } from '../process/fileLock.js';
import { runLogged } from '../process/runLogged.js';
import { settingsMounts, type Sandbox, type SandboxMount } from '../process/sandbox.js';

const run = promisify(execFile);

/** The interpreter environments are made from, as it describes itself (the real binary, not a shim). */
export interface Interpreter {
  executable: string;
  /** sys.base_prefix and sys.prefix (one folder unless the interpreter is a venv's): what a confined process must see to run it. */
  prefixes: string[];
  version: string;
}

const interpreters = new Map<string, Promise<Interpreter>>();

/** Asked once per interpreter and worker: it does not change while the worker runs. */
export function describeInterpreter(python: string): Promise<Interpreter> {
  let described = interpreters.get(python);
  if (!described) {
    described = run(python, ['-c', 'import json, sys; print(json.dumps([sys.executable, sys.base_prefix, sys.prefix, sys.version]))']).then(({ stdout }) => {
      const [executable, basePrefix, prefix, version] = JSON.parse(stdout) as [string, string, string, string];
      return { executable, prefixes: [...new Set([basePrefix, prefix])], version };
    });
    described.catch(() => interpreters.delete(python));
    interpreters.set(python, described);
  }
  return described;
}

export interface PythonEnvironmentRequest {
  interpreter: Interpreter;
  /** Environments are kept per model: one model's install can never change what another model runs. */
  modelId: string;
  /** requirements.txt or pyproject.toml; none: a bare environment. */
  dependencyFile?: string;
  /** Folder holding the cached environments ($REFIT_HOME/venvs). */
  cacheDir: string;
  /** The model's sources, which the install may read (and build, for a pyproject.toml). */
  sourceDir: string;
  env: Record<string, string>;
  logFile: string;
  timeoutMs: number;
  sandbox: Sandbox;
  /** Applies the build's resource limits to each step of the install. */
  limit: (command: string, args: string[]) => { command: string; args: string[] };
  signal?: AbortSignal;
  onLines?: (lines: string[]) => void;
  mask?: string[];
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
 * A virtual environment with the model's dependencies, cached by model, interpreter version and the hash of
 * the dependency file, so the second build of an unchanged model installs nothing. The install runs
 * confined, with the build's limits, writing only the environment's own folder; once finished, the folder
 * is taken back from the confined user (later builds only read it) and marked complete. Concurrent builds
 * of the same key wait for each other.
 */
export async function ensurePythonEnvironment(request: PythonEnvironmentRequest): Promise<PythonEnvironment> {
  const hash = createHash('sha256').update(request.modelId).update('\0').update(request.interpreter.version).update('\0');
  if (request.dependencyFile) hash.update(path.basename(request.dependencyFile)).update('\0').update(readFileSync(request.dependencyFile));
  const dir = path.join(request.cacheDir, hash.digest('hex').slice(0, 16));
  const python = path.join(dir, 'bin', 'python');
  mkdirSync(request.cacheDir, { recursive: true });
  if (existsSync(path.join(dir, COMPLETE_MARKER))) return { python, dir, reused: true };
  const deadline = Date.now() + request.timeoutMs;
  const release = await acquireLock(`${dir}.lock`, request.timeoutMs, 'another build installing the same environment');
  const within = {
    ...request,
    get timeoutMs() {
      return Math.max(1, deadline - Date.now());
    },
  };
  try {
    if (existsSync(path.join(dir, COMPLETE_MARKER))) return { python, dir, reused: true };
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    request.sandbox.handOver(dir);
    const mounts: SandboxMount[] = [
      ...request.interpreter.prefixes.map((prefix) => ({ path: prefix })),
      ...settingsMounts(request.env),
      { path: request.sourceDir, writable: true },
      { path: dir, writable: true },
    ];
    await step(within, mounts, [request.interpreter.executable, '-m', 'venv', dir], 'creating the virtual environment');
    if (request.dependencyFile) {
      const what = request.dependencyFile.endsWith('.toml') ? [path.dirname(request.dependencyFile)] : ['-r', request.dependencyFile];
      await step(
        within,
        mounts,
        [python, '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', ...what],
        `installing ${path.basename(request.dependencyFile)}`,
      );
    }
    request.sandbox.takeBack(dir);
    writeFileSync(path.join(dir, COMPLETE_MARKER), new Date().toISOString());
    return { python, dir, reused: false };
  } finally {
    release();
  }
}

async function step(request: PythonEnvironmentRequest, mounts: SandboxMount[], [command, ...args]: string[], what: string): Promise<void> {
  const confined = request.sandbox.wrap(command!, args, { mounts, cwd: request.sourceDir });
  const limited = request.limit(confined.command, confined.args);
  const result = await runLogged({
    command: limited.command,
    args: limited.args,
    cwd: request.cacheDir,
    env: request.env,
    logFile: request.logFile,
    timeoutMs: request.timeoutMs,
    signal: request.signal,
    onLines: request.onLines,
    mask: request.mask,
    diesWithParent: confined.diesWithParent,
  });
  if (result.exitCode === 0) return;
  if (result.cancelled) throw new Error(`${what} was cancelled`);
  const tail = logTail(request.logFile, 15);
  if (/No matching distribution|Could not find a version|Invalid requirement|ResolutionImpossible|Could not open requirements file/i.test(tail)) {
    throw new RefitError(
      ErrorTypes.DependencyInstallFailed,
      `${what} failed: fix the dependency file (${path.basename(request.dependencyFile ?? '')}). pip said:\n${lastMeaningful(tail)}`,
    );
  }
  // Network and index hiccups pass: the activity retries.
  throw new Error(`${what} failed (exit ${result.exitCode}${result.timedOut ? ', timed out' : ''}):\n${lastMeaningful(tail)}`);
}

function lastMeaningful(tail: string): string {
  return (
    tail
      .split('\n')
      .filter((line) => /error|ERROR|No matching|Could not/.test(line))
      .slice(-3)
      .join('\n') || tail.split('\n').slice(-3).join('\n')
  );
}

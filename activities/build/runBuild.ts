import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { logTail } from '../../platform/processes.js';
import { baseEnvironment } from '../process/baseEnvironment.js';
import { runLogged, type LoggedRunResult } from '../process/runLogged.js';
import type { MetricSource } from '../metrics/metricSource.js';
import { SECRET_VALUE_PREFIX } from '../../spec/schema/common.js';
import { resolveEnvVars } from '../secrets/resolveEnvVars.js';
import type { SecretStore } from '../secrets/secretStore.js';
import { findDependencyFile, readModelManifest } from './modelManifest.js';
import { ensurePythonEnvironment } from './pythonEnvironment.js';
import { applyLimits, resourceRequest } from './resourceLimits.js';

export type BuildStep = 'dependencies' | 'tests' | 'build';

export interface BuildRequest {
  buildId: string;
  modelId: string;
  /** The model's folder in the clone: it holds main_dir and tests/. */
  modelDir: string;
  spec: AutomationModel['action']['build_spec'];
  /** This build's own folder: build.log, metrics.jsonl, artifact/, build-result.json. */
  buildDir: string;
  secrets: SecretStore;
  /** Where cached virtual environments live. */
  venvCacheDir: string;
  /** Interpreter the environments are made from. */
  python: string;
  /** Folder holding the refit_sdk package, put on the build's PYTHONPATH. */
  sdkPythonPath: string;
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (progress: { step: BuildStep; line?: string; lines: number }) => void;
  cgroupRoot?: string;
  /** Where the build's metrics are read from; its prepareBuild() variables go into the build step's environment. */
  metricSource?: MetricSource;
}

export interface BuildResult {
  buildId: string;
  artifactDir: string;
  logFile: string;
  metricsFile: string;
  environment: { dir: string; reused: boolean };
  tests: 'passed' | 'none';
  limits: string[];
  tags: string[];
  durationMs: number;
}

export const RESULT_FILE = 'build-result.json';

/**
 * Builds a model: installs its dependencies into a cached virtual environment, runs its tests (a failing
 * test fails the build), then runs its build (training) with env_vars and requested secrets in its
 * environment and its resources enforced. Everything it prints goes to build.log. A build that already
 * finished (a retried activity) is not run again.
 */
export async function runBuild(request: BuildRequest): Promise<BuildResult> {
  const resultFile = path.join(request.buildDir, RESULT_FILE);
  if (existsSync(resultFile)) return JSON.parse(readFileSync(resultFile, 'utf8')) as BuildResult;
  const started = Date.now();
  const mainDir = path.join(request.modelDir, request.spec.main_dir);
  if (!existsSync(mainDir) || !statSync(mainDir).isDirectory()) {
    throw new RefitError(
      ErrorTypes.ModelFolderNotFound,
      `main_dir "${request.spec.main_dir}" does not exist in the model folder; it should hold model.py (set main_dir if the code is elsewhere)`,
    );
  }
  const manifest = readModelManifest(request.modelDir);
  const logFile = path.join(request.buildDir, 'build.log');
  const metricsFile = path.join(request.buildDir, 'metrics.jsonl');
  const artifactDir = path.join(request.buildDir, 'artifact');
  mkdirSync(request.buildDir, { recursive: true });
  // A retry starts the steps over: clear what an interrupted attempt left.
  rmSync(artifactDir, { recursive: true, force: true });
  rmSync(metricsFile, { force: true });

  const secretValues: string[] = [];
  // The definition's env_vars, then the secrets refit.yaml asks for (as KEY=secret:name entries).
  const fromManifest = Object.entries(manifest.secrets).map(([key, secret]) => `${key}=${SECRET_VALUE_PREFIX}${secret}`);
  const modelEnv = await resolveEnvVars([...request.spec.env_vars, ...fromManifest], request.secrets, (value) => secretValues.push(value));

  const limits = applyLimits(request.buildId, resourceRequest(request.spec.resources), request.cgroupRoot);
  let lines = 0;
  const progress = (step: BuildStep) => (newLines: string[]) => {
    lines += newLines.length;
    request.onProgress?.({ step, line: newLines.at(-1), lines });
  };
  const section = (title: string) => appendFileSync(logFile, `\n== ${title} (${new Date().toISOString()}) ==\n`);
  const scrub = (text: string) => secretValues.reduce((scrubbed, secret) => scrubbed.split(secret).join('***'), text);

  try {
    section(`build ${request.buildId} of model ${request.modelId}`);
    for (const line of limits.description) appendFileSync(logFile, `resources: ${line}\n`);
    request.onProgress?.({ step: 'dependencies', lines });
    const dependencyFile = findDependencyFile(request.modelDir, request.spec.main_dir, request.spec.dependency_file_path, manifest);
    section(dependencyFile ? `installing ${path.relative(request.modelDir, dependencyFile)}` : 'no dependency file: a bare environment');
    const environment = await ensurePythonEnvironment({
      python: request.python,
      dependencyFile,
      cacheDir: request.venvCacheDir,
      env: baseEnvironment(),
      logFile,
      timeoutMs: request.timeoutMs,
      signal: request.signal,
      onLines: progress('dependencies'),
    });
    if (environment.reused) appendFileSync(logFile, `reusing the cached environment ${environment.dir}\n`);

    const env: Record<string, string> = {
      ...baseEnvironment(),
      ...limits.env,
      ...modelEnv,
      PATH: `${path.join(environment.dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      VIRTUAL_ENV: environment.dir,
      PYTHONPATH: request.sdkPythonPath,
      PYTHONUNBUFFERED: '1',
      REFIT_BUILD_ID: request.buildId,
      REFIT_MODEL_ID: request.modelId,
      REFIT_METRICS_FILE: metricsFile,
      REFIT_ARTIFACT_DIR: artifactDir,
      REFIT_TAGS: request.spec.tags.join(','),
      REFIT_PARAMETERS: JSON.stringify(request.spec.parameters),
    };
    const run = async (step: BuildStep, command: string[], extraEnv: Record<string, string> = {}): Promise<LoggedRunResult> => {
      const wrapped = limits.wrap(command[0]!, command.slice(1));
      return runLogged({
        command: wrapped.command,
        args: wrapped.args,
        cwd: request.modelDir,
        env: { ...env, ...extraEnv },
        logFile,
        timeoutMs: request.timeoutMs,
        signal: request.signal,
        onLines: progress(step),
      });
    };

    let tests: BuildResult['tests'] = 'none';
    if (existsSync(path.join(request.modelDir, 'tests'))) {
      request.onProgress?.({ step: 'tests', lines });
      const command = manifest.test_command ?? (await hasPytest(environment.python, env) ? [environment.python, '-m', 'pytest', '-q', 'tests'] : [environment.python, '-m', 'unittest', 'discover', '-s', 'tests', '-v']);
      section(`running the tests: ${command.join(' ')}`);
      // Metrics the tests log must not count as the build's: they go to a file of their own.
      const result = await run('tests', command, { REFIT_METRICS_FILE: path.join(request.buildDir, 'test-metrics.jsonl') });
      checkStopped(result, request, 'the tests');
      if (result.exitCode !== 0) {
        throw new RefitError(ErrorTypes.TestsFailed, scrub(`the model's tests failed (exit ${result.exitCode}), so it was not built; the end of the build log:\n${logTail(logFile, 12)}`));
      }
      tests = 'passed';
    }

    request.onProgress?.({ step: 'build', lines });
    // Only the build step logs the metrics that count, so only it gets the source's variables (e.g. MLFLOW_RUN_ID).
    const metricEnv = (await request.metricSource?.prepareBuild?.({ buildId: request.buildId, modelId: request.modelId })) ?? {};
    for (const key of ['MLFLOW_TRACKING_PASSWORD', 'MLFLOW_TRACKING_TOKEN']) if (metricEnv[key]) secretValues.push(metricEnv[key]);
    const buildCommand = [environment.python, '-m', 'refit_sdk.build', '--model-dir', request.modelDir, '--main-dir', request.spec.main_dir, '--artifact-dir', artifactDir];
    if (manifest.model_class) buildCommand.push('--model-class', manifest.model_class);
    section('building (training) the model');
    const result = await run('build', buildCommand, metricEnv);
    checkStopped(result, request, 'the build');
    if (result.exitCode !== 0) {
      const reported = readFileSync(logFile, 'utf8').split('\n').filter((line) => line.startsWith('refit-build-error: ')).at(-1);
      const oom = result.killed && limits.description.some((line) => line.startsWith('memory'))
        ? ' It was killed, most likely for going over its memory limit; ask for more memory in build_spec.resources.'
        : result.killed ? ' It was killed by a signal.' : '';
      const reason = reported ? reported.slice('refit-build-error: '.length) : `the end of the build log:\n${logTail(logFile, 12)}`;
      throw new RefitError(ErrorTypes.BuildFailed, scrub(`the build failed (exit ${result.exitCode}).${oom} ${reason}`));
    }
    if (!existsSync(path.join(artifactDir, 'model.json'))) {
      throw new RefitError(ErrorTypes.BuildFailed, 'the build finished but wrote no model artifact (artifact/model.json)');
    }
    const buildResult: BuildResult = {
      buildId: request.buildId,
      artifactDir,
      logFile,
      metricsFile,
      environment: { dir: environment.dir, reused: environment.reused },
      tests,
      limits: limits.description,
      tags: request.spec.tags,
      durationMs: Date.now() - started,
    };
    section('build finished');
    writeFileSync(resultFile, JSON.stringify(buildResult, null, 2));
    return buildResult;
  } finally {
    limits.release();
  }
}

function checkStopped(result: LoggedRunResult, request: BuildRequest, what: string): void {
  if (result.cancelled) throw new Error(`${what} of build ${request.buildId} was cancelled`);
  if (result.timedOut) {
    throw new RefitError(ErrorTypes.BuildFailed, `${what} took longer than the build timeout (${Math.round(request.timeoutMs / 1000)} s) and was stopped`);
  }
}

function hasPytest(python: string, env: Record<string, string>): Promise<boolean> {
  return new Promise((resolve) => execFile(python, ['-c', 'import pytest'], { env }, (error) => resolve(!error)));
}

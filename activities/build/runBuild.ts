import { appendFileSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { logTail } from '../../platform/processes.js';
import { baseEnvironment } from '../process/baseEnvironment.js';
import { runLogged, type LoggedRunResult } from '../process/runLogged.js';
import { openSandbox, SANDBOX_HOME, settingsMounts, type SandboxMount, type SandboxSettings } from '../process/sandbox.js';
import { maskSecrets } from '../../platform/secretMask.js';
import type { MetricSource } from '../metrics/metricSource.js';
import { SECRET_VALUE_PREFIX } from '../../spec/schema/common.js';
import { resolveEnvVars } from '../secrets/resolveEnvVars.js';
import type { SecretStore } from '../secrets/secretStore.js';
import { findDependencyFile, readModelManifest } from './modelManifest.js';
import { describeInterpreter, ensurePythonEnvironment } from './pythonEnvironment.js';
import { compileSdkBytecode } from './sdkBytecode.js';
import { applyLimits, resourceRequest } from './resourceLimits.js';

export type BuildStep = 'dependencies' | 'tests' | 'build';

export interface BuildRequest {
  buildId: string;
  /** The automation whose build this is: secrets go only to the automations their scope names. */
  automation: string;
  modelId: string;
  /** The model's folder in the clone: it holds main_dir and tests/. */
  modelDir: string;
  spec: AutomationModel['action']['build_spec'];
  /** This build's own folder: build.log and build-result.json (the worker's), out/ (the build's: metrics, artifact/). */
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
  /** How model code is confined. */
  sandbox: SandboxSettings;
  /** The clone holding modelDir, which the build may write (modelDir itself when absent). */
  sourceDir?: string;
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
  // One limit for the whole build, dependencies, tests and training together: what the activity's timeout covers.
  const remainingMs = () => Math.max(1, started + request.timeoutMs - Date.now());
  const mainDir = path.join(request.modelDir, request.spec.main_dir);
  if (!existsSync(mainDir) || !statSync(mainDir).isDirectory()) {
    throw new RefitError(
      ErrorTypes.ModelFolderNotFound,
      `main_dir "${request.spec.main_dir}" does not exist in the model folder; it should hold model.py (set main_dir if the code is elsewhere)`,
    );
  }
  const manifest = readModelManifest(request.modelDir);
  const logFile = path.join(request.buildDir, 'build.log');
  // What the build may write: its sources (the clone) and its output; build.log and the result stay the worker's.
  const sourceDir = request.sourceDir ?? request.modelDir;
  const outputDir = path.join(request.buildDir, 'out');
  const metricsFile = path.join(outputDir, 'metrics.jsonl');
  const artifactDir = path.join(outputDir, 'artifact');
  mkdirSync(request.buildDir, { recursive: true });
  // A retry starts the steps over: clear what an interrupted attempt left.
  rmSync(outputDir, { recursive: true, force: true });
  mkdirSync(artifactDir, { recursive: true });

  const secretValues: string[] = [];
  const keep = (value: string) => secretValues.push(value);
  const whom = { automation: request.automation, modelId: request.modelId };
  // The definition's env_vars, then the secrets refit.yaml asks for, which the definition must grant.
  const fromManifest = Object.entries(manifest.secrets).map(([key, secret]) => {
    if (!request.spec.secrets.includes(secret)) {
      throw new RefitError(
        ErrorTypes.InvalidDefinition,
        `refit.yaml in the model folder asks for secret "${secret}" (as ${key}), which the automation does not grant to its repository: ` +
          `if the build should have it, list it in action.build_spec.secrets`,
      );
    }
    return `${key}=${SECRET_VALUE_PREFIX}${secret}`;
  });
  const modelEnv = {
    ...(await resolveEnvVars(request.spec.env_vars, request.secrets, { ...whom, field: 'build_spec.env_vars' }, keep)),
    ...(await resolveEnvVars(fromManifest, request.secrets, { ...whom, field: 'refit.yaml secrets' }, keep)),
  };

  const sandbox = await openSandbox(request.sandbox, path.join(request.buildDir, 'sandbox'));
  const interpreter = await describeInterpreter(request.python);
  await compileSdkBytecode(interpreter.executable, request.sdkPythonPath);
  const limits = applyLimits(request.buildId, resourceRequest(request.spec.resources), request.cgroupRoot);
  let lines = 0;
  const progress = (step: BuildStep) => (newLines: string[]) => {
    lines += newLines.length;
    request.onProgress?.({ step, line: newLines.at(-1), lines });
  };
  const section = (title: string) => appendFileSync(logFile, `\n== ${title} (${new Date().toISOString()}) ==\n`);
  const scrub = (text: string) => maskSecrets(text, secretValues);

  try {
    sandbox.handOver(sourceDir);
    sandbox.handOver(outputDir);
    section(`build ${request.buildId} of model ${request.modelId}`);
    appendFileSync(logFile, `model code: ${sandbox.description}\n`);
    for (const line of limits.description) appendFileSync(logFile, `resources: ${line}\n`);
    request.onProgress?.({ step: 'dependencies', lines });
    const dependencyFile = findDependencyFile(request.modelDir, request.spec.main_dir, request.spec.dependency_file_path, manifest);
    section(dependencyFile ? `installing ${path.relative(request.modelDir, dependencyFile)}` : 'no dependency file: a bare environment');
    const environment = await ensurePythonEnvironment({
      interpreter,
      modelId: request.modelId,
      dependencyFile,
      cacheDir: request.venvCacheDir,
      sourceDir,
      env: baseEnvironment(),
      logFile,
      timeoutMs: remainingMs(),
      sandbox,
      limit: (command, args) => limits.wrap(command, args),
      signal: request.signal,
      onLines: progress('dependencies'),
      mask: secretValues,
    });
    if (environment.reused) appendFileSync(logFile, `reusing the cached environment ${environment.dir}\n`);

    const env: Record<string, string> = {
      ...baseEnvironment(),
      ...limits.env,
      ...modelEnv,
      PATH: `${path.join(environment.dir, 'bin')}:/usr/local/bin:/usr/bin:/bin`,
      HOME: SANDBOX_HOME,
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
    // What model code sees: the interpreter, its environment (read-only), refit_sdk, its sources and its output.
    const mounts: SandboxMount[] = [
      ...interpreter.prefixes.map((prefix) => ({ path: prefix })),
      ...settingsMounts(env),
      { path: environment.dir },
      ...request.sdkPythonPath
        .split(':')
        .filter(Boolean)
        .map((entry) => ({ path: entry })),
      { path: sourceDir, writable: true },
      { path: outputDir, writable: true },
    ];
    const run = async (step: BuildStep, command: string[], extraEnv: Record<string, string> = {}): Promise<LoggedRunResult> => {
      const confined = sandbox.wrap(command[0]!, command.slice(1), { mounts, cwd: request.modelDir });
      const wrapped = limits.wrap(confined.command, confined.args);
      return runLogged({
        command: wrapped.command,
        args: wrapped.args,
        cwd: request.modelDir,
        env: { ...env, ...extraEnv },
        logFile,
        timeoutMs: remainingMs(),
        signal: request.signal,
        onLines: progress(step),
        mask: secretValues,
        diesWithParent: confined.diesWithParent,
      });
    };

    let tests: BuildResult['tests'] = 'none';
    if (existsSync(path.join(request.modelDir, 'tests'))) {
      request.onProgress?.({ step: 'tests', lines });
      const pytest = (await run('tests', [environment.python, '-c', 'import pytest'])).exitCode === 0;
      const command =
        manifest.test_command ??
        (pytest
          ? [environment.python, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests']
          : [environment.python, '-m', 'unittest', 'discover', '-s', 'tests', '-v']);
      section(`running the tests: ${command.join(' ')}`);
      // Metrics the tests log must not count as the build's: they go to a file of their own.
      const result = await run('tests', command, { REFIT_METRICS_FILE: path.join(outputDir, 'test-metrics.jsonl') });
      checkStopped(result, request, 'the tests');
      if (result.exitCode !== 0) {
        throw new RefitError(
          ErrorTypes.TestsFailed,
          scrub(`the model's tests failed (exit ${result.exitCode}), so it was not built; the end of the build log:\n${logTail(logFile, 12)}`),
        );
      }
      tests = 'passed';
    }

    request.onProgress?.({ step: 'build', lines });
    // Only the build step logs the metrics that count, so only it gets the source's variables (e.g. MLFLOW_RUN_ID).
    const metricEnv = (await request.metricSource?.prepareBuild?.({ buildId: request.buildId, modelId: request.modelId })) ?? {};
    for (const key of ['MLFLOW_TRACKING_PASSWORD', 'MLFLOW_TRACKING_TOKEN']) if (metricEnv[key]) secretValues.push(metricEnv[key]);
    const buildCommand = [
      environment.python,
      '-m',
      'refit_sdk.build',
      '--model-dir',
      request.modelDir,
      '--main-dir',
      request.spec.main_dir,
      '--artifact-dir',
      artifactDir,
    ];
    if (manifest.model_class) buildCommand.push('--model-class', manifest.model_class);
    section('building (training) the model');
    const result = await run('build', buildCommand, metricEnv);
    checkStopped(result, request, 'the build');
    if (result.exitCode !== 0) {
      const reported = readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('refit-build-error: '))
        .at(-1);
      const oom =
        result.killed && limits.description.some((line) => line.startsWith('memory'))
          ? ' It was killed, most likely for going over its memory limit; ask for more memory in build_spec.resources.'
          : result.killed
            ? ' It was killed by a signal.'
            : '';
      const reason = reported ? reported.slice('refit-build-error: '.length) : `the end of the build log:\n${logTail(logFile, 12)}`;
      throw new RefitError(ErrorTypes.BuildFailed, scrub(`the build failed (exit ${result.exitCode}).${oom} ${reason}`));
    }
    // The build made these: a link in their place would lead the worker to a file of its choosing.
    if (
      !lstatSync(artifactDir).isDirectory() ||
      !existsSync(path.join(artifactDir, 'model.json')) ||
      !lstatSync(path.join(artifactDir, 'model.json')).isFile()
    ) {
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
    // Nothing the build left may be changed by a later confined process (a model server reads the artifact).
    sandbox.takeBack(outputDir);
  }
}

function checkStopped(result: LoggedRunResult, request: BuildRequest, what: string): void {
  if (result.cancelled) throw new Error(`${what} of build ${request.buildId} was cancelled`);
  if (result.timedOut) {
    throw new RefitError(ErrorTypes.BuildFailed, `${what} took longer than the build timeout (${Math.round(request.timeoutMs / 1000)} s) and was stopped`);
  }
}

// A real build (runBuild: venv, tests, refit_sdk.build) of a model that logs with MLflow's own client,
// against a real tracking server: what a user who already calls mlflow.log_metric gets from Refit.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sandboxSettingsFromEnvironment } from '../../activities/process/sandbox.js';
import { runBuild } from '../../activities/build/runBuild.js';
import { MlflowMetricSource } from '../../activities/metrics/mlflowMetricSource.js';
import type { SecretStore } from '../../activities/secrets/secretStore.js';
import { packageRoot } from '../../platform/paths.js';
import { BuildSpecifications } from '../../spec/schema/build.js';
import { startMlflow, type TestMlflow } from '../harness/mlflow.js';

const run = promisify(execFile);

const MODEL = `
import mlflow
from refit_sdk import RefitModel


class Churn(RefitModel):
    def build(self):
        mlflow.log_metric("f1_score", 0.5)
        mlflow.log_metrics({"recall": 0.8, "precision": 0.75})
        mlflow.log_metric("f1_score", 0.91)

    def predict(self, inputs):
        return [0 for _ in inputs]
`;

// The tests run before the build and must not log into the build's run: they do not get its variables.
const TESTS = `
import os
import unittest


class Environment(unittest.TestCase):
    def test_the_tests_are_not_given_the_builds_run(self):
        self.assertNotIn("MLFLOW_RUN_ID", os.environ)
        self.assertNotIn("MLFLOW_TRACKING_URI", os.environ)
`;

const noSecrets: SecretStore = {
  description: 'no secrets (test)',
  read: async (name) => {
    throw new Error(`no secret ${name} in this test`);
  },
  set: async () => undefined,
  setScope: async () => undefined,
  scopeOf: async () => ({ hosts: [], automations: [] }),
  list: async () => [],
  delete: async () => false,
};

describe('a build whose model logs with mlflow.log_metric', () => {
  let server: TestMlflow;
  let dir: string;
  beforeAll(async () => {
    server = await startMlflow();
    dir = mkdtempSync(path.join(os.tmpdir(), 'refit-mlflow-build-'));
  }, 300_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs into the run prepareBuild made, and Refit reads the latest values from it', async () => {
    const modelDir = path.join(dir, 'model');
    mkdirSync(path.join(modelDir, 'main'), { recursive: true });
    mkdirSync(path.join(modelDir, 'tests'));
    writeFileSync(path.join(modelDir, 'main', 'model.py'), MODEL);
    writeFileSync(path.join(modelDir, 'tests', 'test_environment.py'), TESTS);
    // Installing MLflow into the build's venv would take a minute: the model imports the client from the
    // server's venv instead (same interpreter), put on the path next to refit_sdk.
    const { stdout: mlflowPackages } = await run(server.python, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])']);
    const source = new MlflowMetricSource({ trackingUri: server.trackingUri });
    const buildId = 'churn-0a1b2c3d4e5f';

    const result = await runBuild({
      buildId,
      automation: 'churn-retrain',
      modelId: 'churn',
      modelDir,
      spec: BuildSpecifications.parse({ git_uri: 'https://github.com/example/models.git' }),
      buildDir: path.join(dir, 'build'),
      secrets: noSecrets,
      venvCacheDir: path.join(dir, 'venvs'),
      python: server.python,
      sdkPythonPath: [path.join(packageRoot(), 'sdk', 'python'), mlflowPackages.trim()].join(path.delimiter),
      timeoutMs: 120_000,
      metricSource: source,
      sandbox: sandboxSettingsFromEnvironment(),
    });

    expect(result.tests).toBe('passed');
    // Found by the build's tag: had the client started a run of its own, there would be nothing to read.
    expect(await source.read({ buildId })).toEqual({ f1_score: 0.91, recall: 0.8, precision: 0.75 });
  });
});

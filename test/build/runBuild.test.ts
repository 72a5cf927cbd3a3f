import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cgroupLayout } from '../../activities/build/resourceLimits.js';
import { runBuild, type BuildRequest } from '../../activities/build/runBuild.js';
import { sandboxSettingsFromEnvironment } from '../../activities/process/sandbox.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { packageRoot } from '../../platform/paths.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { validateAutomation } from '../../spec/validate.js';
import { GOOD_F1, TEST_VENV_CACHE } from '../harness/buildDeployFixture.js';

const exampleModel = path.join(packageRoot(), 'examples', 'model-repo', 'models', 'breast_cancer');

/** A model folder with a main/model.py of our own, and no dependency file unless one is given. */
function writeModel(root: string, name: string, body: string, files: Record<string, string> = {}): string {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, 'main'), { recursive: true });
  writeFileSync(
    path.join(dir, 'main', 'model.py'),
    `import os\nfrom refit_sdk import RefitModel, log_metric\n\nclass Model(RefitModel):\n${body}\n    def predict(self, rows):\n        return [0 for _ in rows]\n`,
  );
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

describe('runBuild', () => {
  let root: string;
  let secrets: LocalSecretStore;
  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'refit-build-'));
    secrets = new LocalSecretStore(path.join(root, 'secrets'));
    await secrets.set('hf_token', 'hf-secret-value-123', { hosts: [], automations: ['b'] });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  let count = 0;
  const request = (modelDir: string, spec: Record<string, unknown> = {}, overrides: Partial<BuildRequest> = {}): BuildRequest => {
    const validated = validateAutomation({
      name: 'b',
      model_id: 'm',
      trigger: { type: 'NoneTrigger' },
      action: { build_spec: { git_uri: 'https://example.com/r.git', ...spec } },
    });
    if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
    const buildId = `build-${++count}`;
    return {
      buildId,
      automation: 'b',
      modelId: 'm',
      modelDir,
      spec: validated.automation.action.build_spec,
      buildDir: path.join(root, 'builds', buildId),
      secrets,
      venvCacheDir: path.join(root, 'venvs'),
      python: 'python3',
      sdkPythonPath: path.join(packageRoot(), 'sdk', 'python'),
      timeoutMs: 300_000,
      sandbox: sandboxSettingsFromEnvironment(),
      ...overrides,
    };
  };

  it('installs dependencies once per dependency file: the second build reuses the environment', async () => {
    const model = writeModel(root, 'tiny', '    def build(self):\n        log_metric("score", 1.0)\n', { 'main/requirements.txt': '# nothing to install\n' });
    const first = await runBuild(request(model));
    const second = await runBuild(request(model));
    expect(first.environment.reused).toBe(false);
    expect(second.environment).toEqual({ dir: first.environment.dir, reused: true });
    expect(readFileSync(second.logFile, 'utf8')).toContain(`reusing the cached environment ${first.environment.dir}`);
    writeFileSync(path.join(model, 'main', 'requirements.txt'), '# changed\n');
    expect((await runBuild(request(model))).environment.reused).toBe(false);
  });

  it('builds the example model: tests first, then training with its metrics, and keeps the log', async () => {
    const result = await runBuild(request(exampleModel, {}, { venvCacheDir: TEST_VENV_CACHE }));
    expect(result.tests).toBe('passed');
    expect(existsSync(path.join(result.artifactDir, 'model.pkl'))).toBe(true);
    const metrics = readFileSync(result.metricsFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(metrics.find((metric) => metric.name === 'f1_score').value).toBe(GOOD_F1);
    const log = readFileSync(result.logFile, 'utf8');
    expect(log).toMatch(/== running the tests: .*\n[\s\S]*OK\n[\s\S]*== building \(training\) the model/);
  });

  it('fails the build, without training, when a test fails', async () => {
    const error = await runBuild(request(exampleModel, { env_vars: ['EXAMPLE_FAIL_TESTS=1'] }, { venvCacheDir: TEST_VENV_CACHE })).catch((err: unknown) => err);
    expect((error as RefitError).type).toBe(ErrorTypes.TestsFailed);
    expect((error as Error).message).toMatch(/the model's tests failed \(exit 1\), so it was not built; the end of the build log:\n[\s\S]*FAILED/);
  });

  it('gives the build its env_vars and the secrets it names, and keeps secret values out of messages', async () => {
    const model = writeModel(
      root,
      'secretive',
      '    def build(self):\n        assert os.environ["MODE"] == "fast", os.environ.get("MODE")\n        log_metric("token_length", len(os.environ["HF_TOKEN"]))\n        raise RuntimeError("leaking " + os.environ["HF_TOKEN"])\n',
    );
    const error = await runBuild(request(model, { env_vars: ['MODE=fast', 'HF_TOKEN=secret:hf_token'] })).catch((err: unknown) => err);
    expect((error as RefitError).type).toBe(ErrorTypes.BuildFailed);
    expect((error as Error).message).toMatch(/build\(\) raised RuntimeError: leaking \*\*\*/);
    expect((error as Error).message).not.toContain('hf-secret-value-123');
  });

  it('reports a configuration error of the model code in one line', async () => {
    const model = writeModel(root, 'noclass', '    pass\n');
    writeFileSync(path.join(model, 'main', 'model.py'), 'x = 1\n');
    const error = await runBuild(request(model)).catch((err: unknown) => err);
    expect((error as RefitError).type).toBe(ErrorTypes.BuildFailed);
    expect((error as Error).message).toMatch(/^the build failed \(exit 2\)\.  ?.*RefitModel/);
  });

  it('says which folder is missing when main_dir does not exist', async () => {
    const error = await runBuild(request(exampleModel, { main_dir: 'src' })).catch((err: unknown) => err);
    expect((error as RefitError).type).toBe(ErrorTypes.ModelFolderNotFound);
    expect((error as Error).message).toMatch(/main_dir "src" does not exist in the model folder/);
  });

  it('does not run a finished build again (a retried activity gets the same result)', async () => {
    const model = writeModel(root, 'once', '    def build(self):\n        log_metric("score", 2.0)\n');
    const wanted = request(model);
    const first = await runBuild(wanted);
    writeFileSync(path.join(model, 'main', 'model.py'), 'raise SystemExit("must not run again")\n');
    expect(await runBuild(wanted)).toEqual(first);
  });

  const hungry =
    '    def build(self):\n        hoard = bytearray(600 * 1024 * 1024)\n        hoard[::4096] = b"x" * len(hoard[::4096])\n        log_metric("size", len(hoard))\n';
  const small = { resources: { type: 'CpuResources', cpu_fraction: 1, memory: '200Mi' } };

  // This host lets Refit create cgroups, so the build is really killed at its limit.
  (cgroupLayout() ? it : it.skip)('enforces memory with a cgroup: a build that takes more is killed and told why', async () => {
    const error = await runBuild(request(writeModel(root, 'hungry', hungry), small)).catch((err: unknown) => err);
    expect((error as RefitError).type).toBe(ErrorTypes.BuildFailed);
    expect((error as Error).message).toMatch(/killed, most likely for going over its memory limit; ask for more memory in build_spec.resources/);
    const fits = await runBuild(
      request(writeModel(root, 'modest', '    def build(self):\n        log_metric("size", len(bytearray(50 * 1024 * 1024)))\n'), small),
    );
    expect(fits.limits).toEqual([
      `memory limited to 200 MiB (cgroup ${cgroupLayout()!.kind})`,
      `CPU limited to 1 core(s) (cgroup ${cgroupLayout()!.kind} CPU quota)`,
    ]);
  });

  it('enforces memory without cgroups too (RLIMIT_DATA): the allocation fails inside the build', async () => {
    const error = await runBuild(request(writeModel(root, 'hungry-rlimit', hungry), small, { cgroupRoot: path.join(root, 'no-cgroups') })).catch(
      (err: unknown) => err,
    );
    expect((error as RefitError).type).toBe(ErrorTypes.BuildFailed);
    expect((error as Error).message).toMatch(/build\(\) raised MemoryError/);
  });
});

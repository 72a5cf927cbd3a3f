// A model repository's code (its dependency install, tests, build and model server) runs confined: it
// sees neither the worker's processes nor its environment, the secret store, Refit's state or other
// builds, and it runs as an unprivileged user. The repository here tries all of it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runBuild, type BuildRequest } from '../../activities/build/runBuild.js';
import { LocalDeploymentTarget } from '../../activities/deploy/local/localTarget.js';
import { stopAllLocalServing } from '../../activities/deploy/local/stopAll.js';
import { DEFAULT_SANDBOX_UID, sandboxSettingsFromEnvironment } from '../../activities/process/sandbox.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { packageRoot } from '../../platform/paths.js';
import { runningProcesses } from '../../platform/processes.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { BuildSpecifications } from '../../spec/schema/build.js';
import { DeploymentSpecifications } from '../../spec/schema/deployment.js';

const SECRET = 'ghp_notARealTokenButSecret1234';
const sdk = path.join(packageRoot(), 'sdk', 'python');
let root: string;
let home: string;
let secrets: LocalSecretStore;

/** Python that reports what it can reach, as 0/1 per probe, into a JSON file or as metrics. */
const PROBES = (targets: Record<string, string>) => `
import json, os
def _can_read(path):
    try:
        with open(path, 'rb') as handle:
            handle.read(1)
        return 1
    except Exception:
        return 0
def _can_list(path):
    try:
        os.listdir(path)
        return 1
    except Exception:
        return 0
def _can_write(path):
    try:
        with open(path, 'w') as handle:
            handle.write('x')
        return 1
    except Exception:
        return 0
def probes():
    targets = ${JSON.stringify(targets)}
    return {
        'uid': os.getuid(),
        'processes': len([entry for entry in os.listdir('/proc') if entry.isdigit()]),
        'sees_worker': 1 if os.path.exists('/proc/%s' % targets['worker_pid']) and _can_read('/proc/%s/cmdline' % targets['worker_pid']) and b'node' in open('/proc/%s/cmdline' % targets['worker_pid'], 'rb').read() else 0,
        'worker_environ': _can_read('/proc/%s/environ' % targets['worker_pid']),
        'secret_file': _can_read(targets['secret_file']),
        'secret_folder': _can_list(targets['secret_folder']),
        'secret_store_listed': 1 if _can_list(targets['refit_home']) and 'secrets' in os.listdir(targets['refit_home']) else 0,
        'other_build': _can_read(targets['other_build']),
        'write_refit_home': _can_write(os.path.join(targets['refit_home'], 'planted-by-a-build')),
        'write_sdk_bytecode': _can_write(os.path.join(targets['sdk_bytecode'], 'planted-by-a-build.pyc')),
        'secret_in_env': 1 if any(${JSON.stringify(SECRET)} in value for value in os.environ.values()) else 0,
        'worker_variable': 1 if 'REFIT_WORKER_ONLY' in os.environ else 0,
    }
`;

/** Where the hostile environment's interpreter starts outside the sandbox leave their mark: none should. */
const unconfinedStarts = () => path.join(root, 'unconfined-starts');

function hostileModel(targets: Record<string, string>): string {
  const dir = path.join(root, 'hostile');
  mkdirSync(path.join(dir, 'main'), { recursive: true });
  mkdirSync(path.join(dir, 'tests'), { recursive: true });
  mkdirSync(path.join(dir, 'hostile_pkg'), { recursive: true });
  writeFileSync(path.join(dir, 'main', 'probes.py'), PROBES(targets));
  writeFileSync(
    path.join(dir, 'main', 'model.py'),
    `import sys, os\nsys.path.insert(0, os.path.dirname(__file__))\nfrom probes import probes\nfrom refit_sdk import RefitModel, log_metric\n\n` +
      `class Model(RefitModel):\n    def build(self):\n        for name, value in probes().items():\n            log_metric(name, value)\n\n    def predict(self, rows):\n        return [0 for _ in rows]\n`,
  );
  // The tests record what they could reach, and fail outright if they ran as root.
  writeFileSync(
    path.join(dir, 'tests', 'test_confined.py'),
    `import json, os, sys, unittest\nsys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'main'))\nfrom probes import probes\n\n` +
      `class Confined(unittest.TestCase):\n    def test_not_root(self):\n        found = probes()\n        with open(os.path.join(os.path.dirname(__file__), '..', 'tests-probes.json'), 'w') as out:\n            json.dump(found, out)\n        self.assertNotEqual(found['uid'], 0)\n`,
  );
  // A package whose build backend runs during the install, and whose .pth file runs at every later
  // interpreter start in the environment (the tests, the build, the model server).
  writeFileSync(path.join(dir, 'requirements.txt'), './hostile_pkg\n');
  writeFileSync(path.join(dir, 'hostile_pkg', 'pyproject.toml'), '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n');
  writeFileSync(
    path.join(dir, 'hostile_pkg', 'backend.py'),
    `import base64, hashlib, json, os, sys, zipfile\nsys.path.insert(0, ${JSON.stringify(path.join(dir, 'main'))})\nfrom probes import probes\n\n` +
      `def _record():\n    with open(${JSON.stringify(path.join(dir, 'install-probes.json'))}, 'w') as out:\n        json.dump(probes(), out)\n\n` +
      // Each start leaves a file in its working folder when that is this test's and writable (a confined start: the
      // model's folder), and one in unconfined-starts, which only a process outside the sandbox can reach.
      `PTH = "import os; [open(os.path.join(d, 'pth-' + os.urandom(6).hex()), 'w').write(str(os.getuid())) for d in (os.getcwd(), '${unconfinedStarts()}') if d.startswith('${root}') and os.access(d, os.W_OK)]\\n"\n\n` +
      `def get_requires_for_build_wheel(config_settings=None):\n    _record()\n    return []\n\n` +
      `def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    _record()\n    name = 'hostile-1.0-py3-none-any.whl'\n    files = {'hostile.pth': PTH, 'hostile-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\\nName: hostile\\nVersion: 1.0\\n', 'hostile-1.0.dist-info/WHEEL': 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'}\n` +
      `    record = []\n    with zipfile.ZipFile(os.path.join(wheel_directory, name), 'w') as wheel:\n        for path, text in files.items():\n            data = text.encode()\n            wheel.writestr(path, data)\n            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()\n            record.append('%s,sha256=%s,%d' % (path, digest, len(data)))\n        record.append('hostile-1.0.dist-info/RECORD,,')\n        wheel.writestr('hostile-1.0.dist-info/RECORD', '\\n'.join(record) + '\\n')\n    return name\n`,
  );
  return dir;
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'refit-confinement-'));
  home = path.join(root, 'home');
  mkdirSync(unconfinedStarts());
  secrets = new LocalSecretStore(path.join(home, 'secrets'));
  await secrets.set('hf_token', SECRET, { hosts: [], automations: ['hostile'] });
  process.env.REFIT_WORKER_ONLY = 'the worker environment';
});
afterAll(async () => {
  delete process.env.REFIT_WORKER_ONLY;
  await stopAllLocalServing(path.join(home, 'deployments'));
  rmSync(root, { recursive: true, force: true });
});

function request(modelDir: string, buildId: string, overrides: Partial<BuildRequest> = {}): BuildRequest {
  return {
    buildId,
    automation: 'hostile',
    modelId: 'hostile',
    modelDir,
    sourceDir: modelDir,
    spec: BuildSpecifications.parse({ git_uri: 'https://example.com/r.git', env_vars: ['HF_TOKEN=secret:hf_token'] }),
    buildDir: path.join(home, 'builds', buildId),
    secrets,
    venvCacheDir: path.join(home, 'venvs'),
    python: 'python3',
    sdkPythonPath: sdk,
    timeoutMs: 300_000,
    sandbox: sandboxSettingsFromEnvironment(),
    ...overrides,
  };
}

describe('a hostile model repository, built and served confined', () => {
  let modelDir: string;
  let built: Awaited<ReturnType<typeof runBuild>>;
  beforeAll(async () => {
    // Another build's files, which this one must not read.
    const other = path.join(home, 'builds', 'other-build', 'out');
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, 'metrics.jsonl'), '{"name": "f1", "value": 0.9}\n');
    modelDir = hostileModel({
      worker_pid: String(process.pid),
      secret_file: path.join(home, 'secrets', 'hf_token'),
      secret_folder: path.join(home, 'secrets'),
      refit_home: home,
      other_build: path.join(other, 'metrics.jsonl'),
      // The worker compiles refit_sdk's bytecode there, which every later build and model server loads.
      sdk_bytecode: path.join(sdk, 'refit_sdk', '__pycache__'),
    });
    built = await runBuild(request(modelDir, 'hostile-build-1'));
  }, 300_000);

  const noEscape = {
    sees_worker: 0,
    worker_environ: 0,
    secret_file: 0,
    secret_folder: 0,
    secret_store_listed: 0,
    other_build: 0,
    write_refit_home: 0,
    write_sdk_bytecode: 0,
    worker_variable: 0,
  };

  it('installs its dependencies confined, as the unprivileged user', () => {
    const found = JSON.parse(readFileSync(path.join(modelDir, 'install-probes.json'), 'utf8'));
    expect(found).toMatchObject({ ...noEscape, uid: DEFAULT_SANDBOX_UID });
    // The environment is taken back once installed: no later build can change what it runs.
    expect(statSync(built.environment.dir).uid).toBe(0);
  });

  it("runs its tests confined: its own process namespace, none of the worker's files", () => {
    const found = JSON.parse(readFileSync(path.join(modelDir, 'tests-probes.json'), 'utf8'));
    expect(found).toMatchObject({ ...noEscape, uid: DEFAULT_SANDBOX_UID });
    expect(found.processes).toBeLessThanOrEqual(3);
    expect(built.tests).toBe('passed');
  });

  it('runs its build confined; only the secret its scope grants reaches it', async () => {
    const metrics = Object.fromEntries(
      readFileSync(built.metricsFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line))
        .map((record) => [record.name, record.value]),
    );
    expect(metrics).toMatchObject({ ...noEscape, uid: DEFAULT_SANDBOX_UID, secret_in_env: 1 });
    expect(readFileSync(built.logFile, 'utf8')).toContain(
      `model code: confined: a bubblewrap sandbox (own process namespace, only its own folders) as unprivileged user ${DEFAULT_SANDBOX_UID}`,
    );
    expect(readdirSync(home)).not.toContain('planted-by-a-build');
    expect(existsSync(path.join(sdk, 'refit_sdk', '__pycache__', 'planted-by-a-build.pyc'))).toBe(false);
  });

  it('runs every interpreter start of its environment confined, even the ones Refit makes itself', () => {
    const starts = readdirSync(modelDir).filter((name) => name.startsWith('pth-'));
    // The pytest probe, the tests and the build at least: each started the environment's python.
    expect(starts.length).toBeGreaterThanOrEqual(2);
    for (const name of starts) expect(readFileSync(path.join(modelDir, name), 'utf8')).toBe(String(DEFAULT_SANDBOX_UID));
  });

  it('serves it confined: the model server runs as the unprivileged user', async () => {
    const target = new LocalDeploymentTarget({ deploymentsRoot: path.join(home, 'deployments'), sdkPythonPath: sdk, secrets });
    await target.apply({
      automation: 'hostile',
      modelId: 'hostile',
      buildId: 'hostile-build-1',
      environment: '',
      spec: DeploymentSpecifications.parse({ number_of_pods: 1, cpu_fraction: 0.5, memory: '512Mi' }),
      artifactDir: built.artifactDir,
      python: path.join(built.environment.dir, 'bin', 'python'),
      metrics: {},
    });
    const servers = runningProcesses().filter(
      ({ command }) => command.includes('refit_sdk.serve') && command.includes('--model-name hostile ') && !command.startsWith('bwrap '),
    );
    expect(servers).toHaveLength(1);
    const status = readFileSync(`/proc/${servers[0]!.pid}/status`, 'utf8');
    expect(status).toMatch(new RegExp(`^Uid:\\s+${DEFAULT_SANDBOX_UID}\\s`, 'm'));
  });

  it("never starts its environment's interpreter outside the sandbox, not even for what the worker does itself", () => {
    // The .pth did run (confined, in the model's folder: the pytest probe, the tests, the build), so an empty folder
    // below means no start of this environment's interpreter happened outside the sandbox, the model server's included.
    expect(readdirSync(modelDir).filter((name) => name.startsWith('pth-')).length).toBeGreaterThanOrEqual(3);
    expect(readdirSync(unconfinedStarts())).toEqual([]);
  });
});

describe('when the worker cannot confine model code', () => {
  const tiny = () => {
    const dir = path.join(root, 'tiny');
    mkdirSync(path.join(dir, 'main'), { recursive: true });
    writeFileSync(
      path.join(dir, 'main', 'model.py'),
      'from refit_sdk import RefitModel, log_metric\n\nclass M(RefitModel):\n    def build(self):\n        log_metric("score", 1.0)\n\n    def predict(self, rows):\n        return rows\n',
    );
    return dir;
  };

  it('refuses to build, saying what the operator can do', async () => {
    const sandbox = sandboxSettingsFromEnvironment({ REFIT_BWRAP: '/nonexistent/bwrap' });
    const error = await runBuild(request(tiny(), 'no-sandbox', { sandbox, spec: BuildSpecifications.parse({ git_uri: 'https://example.com/r.git' }) })).catch(
      (err: unknown) => err,
    );
    expect((error as RefitError).type).toBe(ErrorTypes.WorkerSetup);
    expect((error as Error).message).toMatch(
      /cannot confine model code \(\/nonexistent\/bwrap is not installed\); install bubblewrap .* REFIT_BUILD_SANDBOX=off/,
    );
  });

  it('builds unconfined only when the operator opts in, and the build log says so', async () => {
    const sandbox = sandboxSettingsFromEnvironment({ REFIT_BUILD_SANDBOX: 'off' });
    const result = await runBuild(request(tiny(), 'opted-out', { sandbox, spec: BuildSpecifications.parse({ git_uri: 'https://example.com/r.git' }) }));
    expect(readFileSync(result.logFile, 'utf8')).toContain(
      'model code: not confined: model code runs as the worker itself (the worker sets REFIT_BUILD_SANDBOX=off)',
    );
  });
});

// Refit as a package: `npm pack` of this checkout (as built by `make test`) installed into a throwaway project
// from the registry's (cached) packages, as a user's repository would install it. The project's TypeScript imports
// the builders from `refit` and the client from `refit/client`, type-checks under strict settings against the
// shipped declarations, runs, and `npx refit` validates its definitions.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { packageRoot } from '../../platform/paths.js';

const exec = promisify(execFile);
const INSTALL_TIMEOUT_MS = 10 * 60_000;

describe('the npm package', () => {
  let dir: string;
  let project: string;
  let files: string[];
  const inProject = (command: string, args: string[]) =>
    exec(command, args, { cwd: project, env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' }, maxBuffer: 16 * 1024 * 1024 });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'refit-package-'));
    const packed = path.join(dir, 'packed');
    mkdirSync(packed);
    // --ignore-scripts: the test run has built dist/ already (prepack would build it again).
    const { stdout } = await exec('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packed], {
      cwd: packageRoot(),
      maxBuffer: 16 * 1024 * 1024,
    });
    files = (JSON.parse(stdout) as [{ files: { path: string }[] }])[0].files.map((file) => file.path);
    const tarball = path.join(packed, readdirSync(packed)[0]!);
    project = path.join(dir, 'models-repo');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'models-repo', private: true, type: 'module' }));
    await inProject('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, 'typescript@5', '@types/node@20']);
  }, INSTALL_TIMEOUT_MS);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ships the built code with its declarations, the Python SDK and the licence, and no tests or sources', () => {
    for (const file of [
      'LICENSE',
      'README.md',
      'dist/spec/index.js',
      'dist/spec/index.d.ts',
      'dist/client/index.d.ts',
      'dist/client/cli.js',
      'sdk/python/refit_sdk/serve.py',
    ])
      expect(files).toContain(file);
    expect(files.filter((file) => /^dist\/(test|bench)\/|\.map$|^(spec|client|activities)\/.*\.ts$|__pycache__/.test(file))).toEqual([]);
  });

  it('type-checks and runs a definition that imports the builders and the client, and the CLI validates it', async () => {
    // skipLibCheck as `tsc --init` sets it: the Temporal SDK's own declarations import `ms` without its types.
    const compilerOptions = {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    };
    writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions }));
    writeFileSync(
      path.join(project, 'retrain.ts'),
      `import { Automation, BuildMetric, BuildSpecifications, DeploymentSpecifications, QwakBuildDeploy, ScheduledTrigger, ThresholdDirection, validateAutomation } from 'refit';
import { RefitClient, connectRefit, type RunRecord } from 'refit/client';

export const retrain = Automation({
  name: 'retrain-churn',
  model_id: 'churn',
  trigger: ScheduledTrigger({ cron: '0 3 * * 1' }),
  action: QwakBuildDeploy({
    build_spec: BuildSpecifications({ git_uri: 'https://github.com/acme/models.git#churn', git_access_token_secret: 'git_token' }),
    deployment_condition: BuildMetric({ metric_name: 'f1_score', direction: ThresholdDirection.ABOVE, threshold: '0.7' }),
    deployment_spec: DeploymentSpecifications({ number_of_pods: 2, cpu_fraction: 0.5, memory: '1Gi' }),
  }),
});

// Only types from the client here: connecting needs a Temporal server.
const connect: () => Promise<RefitClient> = connectRefit;
const latest = (runs: RunRecord[]): string | undefined => runs[0]?.buildId;
const checked = validateAutomation(retrain);
if (process.argv[1]?.endsWith('retrain.js') || process.argv[1]?.endsWith('retrain.ts')) {
  console.log(JSON.stringify({ ok: checked.ok, connect: typeof connect, latest: latest([]), client: typeof RefitClient }));
}
`,
    );
    await inProject(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
    // A misuse of a builder fails the type check, naming the field.
    writeFileSync(path.join(project, 'wrong.ts'), `import { DeploymentSpecifications } from 'refit';\nDeploymentSpecifications({ number_of_pods: 'two' });\n`);
    const wrong = await inProject(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']).catch(
      (err: { stdout: string }) => err,
    );
    expect((wrong as { stdout: string }).stdout).toMatch(/wrong\.ts.*number_of_pods|Type 'string' is not assignable to type 'number'/s);
    rmSync(path.join(project, 'wrong.ts'));

    const ran = await inProject(process.execPath, [path.join('node_modules', 'tsx', 'dist', 'cli.mjs'), 'retrain.ts']);
    expect(JSON.parse(ran.stdout)).toEqual({ ok: true, connect: 'function', client: 'function' });

    const validated = await inProject('npx', ['--no-install', 'refit', 'validate', 'retrain.ts']);
    expect(validated.stdout).toContain('retrain-churn');
    const version = await inProject('npx', ['--no-install', 'refit', '--version']);
    expect(version.stdout.trim()).toBe((await import(path.join(packageRoot(), 'package.json'), { with: { type: 'json' } })).default.version);
    const help = await inProject('npx', ['--no-install', 'refit', '--help']);
    expect(help.stdout).toMatch(/Usage: refit/);
    expect(help.stdout).toContain('scale-status');
  }, 120_000);
});

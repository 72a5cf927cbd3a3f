// A worker that uses no cluster does not load the Kubernetes client (~60 MiB of a worker's memory, ~30 MiB of
// heap, copied with every fork of a build or a git command); one set up for a cluster does. The modules a real
// worker's set-up resolves are recorded by a module-resolution hook in a child process.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { packageRoot } from '../../platform/paths.js';

const run = promisify(execFile);

describe("the worker's Kubernetes client", () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'refit-lazy-kubernetes-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  const dist = path.join(packageRoot(), 'dist');
  const hooks = path.join(folder, 'hooks.mjs');
  writeFileSync(
    hooks,
    "import { appendFileSync } from 'node:fs';\n" +
      'export async function resolve(specifier, context, next) {\n' +
      '  const resolved = await next(specifier, context);\n' +
      '  appendFileSync(process.env.RESOLVED_LOG, resolved.url + "\\n");\n' +
      '  return resolved;\n' +
      '}\n',
  );
  const register = path.join(folder, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
  // What `refit worker` does before it polls: its dependencies from the environment, and its activities.
  const setUp = path.join(folder, 'setUp.mjs');
  writeFileSync(
    setUp,
    `import { defaultDependencies } from ${JSON.stringify(`file://${dist}/worker/dependencies.js`)};\n` +
      `import { createActivities } from ${JSON.stringify(`file://${dist}/activities/index.js`)};\n` +
      "const dependencies = await defaultDependencies({ taskQueue: 'lazy', home: process.env.REFIT_HOME });\n" +
      'createActivities(dependencies);\n' +
      'console.log(dependencies.deploymentTarget.name);\n',
  );
  // A kubeconfig that names a cluster nobody serves: nothing here calls it.
  const kubeconfig = path.join(folder, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]',
      'users: [{ name: u, user: { token: t } }]',
      'contexts: [{ name: x, context: { cluster: c, user: u, namespace: refit } }]',
      'current-context: x',
      '',
    ].join('\n'),
  );

  async function resolvedBySetUp(env: Record<string, string>): Promise<{ target: string; kubernetesModules: string[] }> {
    const log = path.join(folder, `resolved-${Math.random().toString(36).slice(2)}.log`);
    // The test run's own Kubernetes settings are not the worker's here.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !['REFIT_DEPLOY_TARGET', 'REFIT_SECRET_STORE', 'REFIT_BUILD_RUNNER', 'KUBECONFIG'].includes(name)),
    );
    const { stdout } = await run(process.execPath, ['--import', register, setUp], {
      env: { ...inherited, REFIT_HOME: path.join(folder, 'home'), RESOLVED_LOG: log, ...env },
    });
    const resolved = readFileSync(log, 'utf8').trim().split('\n');
    expect(resolved.some((url) => url.endsWith('/dist/activities/index.js'))).toBe(true);
    return { target: stdout.trim(), kubernetesModules: resolved.filter((url) => url.includes('/@kubernetes/client-node/')) };
  }

  it('is not loaded by a worker with the local target, secret store and builds', async () => {
    const { target, kubernetesModules } = await resolvedBySetUp({});
    expect(target).toBe('local');
    expect(kubernetesModules).toEqual([]);
  });

  it('is loaded by a worker that deploys to a cluster', async () => {
    const { target, kubernetesModules } = await resolvedBySetUp({
      REFIT_DEPLOY_TARGET: 'kubernetes',
      REFIT_IMAGE_REPOSITORY: 'registry.example/models',
      REFIT_BUILD_RUNNER: 'local',
      KUBECONFIG: kubeconfig,
    });
    expect(target).toBe('kubernetes');
    expect(kubernetesModules.length).toBeGreaterThan(0);
  });
});

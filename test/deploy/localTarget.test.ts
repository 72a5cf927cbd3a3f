import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runBuild, type BuildResult } from '../../activities/build/runBuild.js';
import type { DeploymentRequest } from '../../shared/deployment.js';
import { LocalDeploymentTarget, stopAllLocalServing } from '../../activities/deploy/local/localTarget.js';
import { isServing } from '../../activities/deploy/local/pods.js';
import { routerUrl } from '../../activities/deploy/local/routerProcess.js';
import type { ModelServingState } from '../../activities/deploy/local/servingState.js';
import { sandboxSettingsFromEnvironment } from '../../activities/process/sandbox.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { packageRoot } from '../../platform/paths.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { validateAutomation } from '../../spec/validate.js';
import { predict, TEST_VENV_CACHE } from '../harness/buildDeployFixture.js';

const sdk = path.join(packageRoot(), 'sdk', 'python');
const exampleModel = path.join(packageRoot(), 'examples', 'model-repo', 'models', 'breast_cancer');

describe('the local deployment target', () => {
  let root: string;
  let target: LocalDeploymentTarget;
  let build: BuildResult;
  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'refit-local-target-'));
    const secrets = new LocalSecretStore(path.join(root, 'secrets'));
    target = new LocalDeploymentTarget({ deploymentsRoot: path.join(root, 'deployments'), sdkPythonPath: sdk, secrets });
    const spec = validateAutomation({
      name: 'a',
      model_id: 'm',
      trigger: { type: 'NoneTrigger' },
      action: { build_spec: { git_uri: 'https://example.com/r.git' } },
    });
    if (!spec.ok) throw new Error('invalid');
    build = await runBuild({
      buildId: 'b1',
      automation: 'a',
      modelId: 'bc',
      modelDir: exampleModel,
      spec: spec.automation.action.build_spec,
      buildDir: path.join(root, 'builds', 'b1'),
      secrets,
      venvCacheDir: TEST_VENV_CACHE,
      python: 'python3',
      sdkPythonPath: sdk,
      timeoutMs: 600_000,
      sandbox: sandboxSettingsFromEnvironment(),
    });
  });
  afterAll(async () => {
    await stopAllLocalServing(path.join(root, 'deployments'));
    rmSync(root, { recursive: true, force: true });
  });

  const request = (buildId: string, spec: Record<string, unknown> = {}, artifactDir = build.artifactDir): DeploymentRequest => {
    const validated = validateAutomation({
      name: 'a',
      model_id: 'bc',
      trigger: { type: 'NoneTrigger' },
      action: {
        build_spec: { git_uri: 'https://example.com/r.git' },
        deployment_spec: { number_of_pods: 2, cpu_fraction: 1, memory: '1Gi', deployment_process_timeout_limit: 30, ...spec },
      },
    });
    if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
    return {
      automation: 'a',
      modelId: 'bc',
      buildId,
      environment: '',
      spec: validated.automation.action.deployment_spec,
      artifactDir,
      python: path.join(TEST_VENV_CACHE, path.basename(build.environment.dir), 'bin', 'python'),
      metrics: { f1_score: 0.9 },
    };
  };

  it('serves a build on number_of_pods processes behind one address, and applying it again changes nothing', async () => {
    const first = await target.apply(request('b1'));
    expect(first).toMatchObject({ variation: 'default', buildId: 'b1', changed: true });
    const status = await target.status('bc', '');
    expect(status!.variations.default!.pods).toHaveLength(2);
    expect(status!.variations.default!.pods.every((pod) => pod.alive)).toBe(true);
    // Requests go to both pods in turn.
    const answers = await Promise.all([1, 2, 3, 4].map(() => predict(first.url!, 'bc')));
    expect(answers.every((answer) => answer.status === 200 && answer.build === 'b1')).toBe(true);
    const again = await target.apply(request('b1'));
    expect(again).toMatchObject({ changed: false, url: first.url });
    expect((await target.status('bc', ''))!.variations.default!.pods.map((pod) => pod.name)).toEqual(status!.variations.default!.pods.map((pod) => pod.name));
  });

  it('keeps the previous build serving when a new one never becomes ready, and says so', async () => {
    const broken = path.join(root, 'broken-artifact');
    // An artifact whose pickle is not a model: the server cannot load it and exits.
    cpSync(build.artifactDir, broken, { recursive: true });
    writeFileSync(path.join(broken, 'model.pkl'), 'not a pickle');
    const error = await target.apply(request('b2', {}, broken)).catch((err: unknown) => err);
    expect((error as RefitError).type).toBe(ErrorTypes.DeploymentFailed);
    expect((error as Error).message).toMatch(
      /^build b2 of bc was not deployed \(rolled back: build b1 keeps serving variation "default"\): the model server exited before it was ready/,
    );
    const status = await target.status('bc', '');
    expect(status!.variations.default!.buildId).toBe('b1');
    expect((await predict(status!.url!, 'bc')).build).toBe('b1');
  });

  it('serves variations side by side: a request can ask for one, others are shared between them', async () => {
    const b = await target.apply(request('b3', { variation_name: 'B', number_of_pods: 1 }));
    expect(b).toMatchObject({ variation: 'B', changed: true, previousBuildId: undefined });
    const status = await target.status('bc', '');
    expect(Object.keys(status!.variations).sort()).toEqual(['B', 'default']);
    const asked = await fetch(`${b.url}/v2/models/bc`, { headers: { 'x-refit-variation': 'B' } });
    expect(asked.headers.get('x-refit-build-id')).toBe('b3');
    const seen = new Set<string | null>();
    let answeredByB = 0;
    for (let i = 0; i < 40 && (seen.size < 2 || answeredByB < 3); i++) {
      const { variation } = await predict(b.url!, 'bc');
      seen.add(variation);
      if (variation === 'B') answeredByB++;
    }
    expect(seen).toEqual(new Set(['default', 'B']));
    // The router counts per variation what it answered, as the model server does; the metadata request is not an inference.
    const countOfB = async () => {
      const text = await (await fetch(`${b.url}/metrics`)).text();
      return Number(/^refit_requests_total\{model="bc",variation="B",build="b3",code="200"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    for (let wait = 0; wait < 20 && (await countOfB()) !== answeredByB; wait++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await countOfB()).toBe(answeredByB);
    const text = await (await fetch(`${b.url}/metrics`)).text();
    expect(text).toMatch(/^refit_request_duration_seconds_count\{model="bc",variation="B",build="b3"\} (\d+)$/m);
    expect(text).toMatch(/^refit_requests_in_flight\{model="bc",variation="B",build="b3"\} 0$/m);
  });

  it('reports a change done only once its router routes by it, and stops removed pods only after that', async () => {
    await target.apply(request('b5', { variation_name: 'C', number_of_pods: 1 }));
    const stateFile = path.join(root, 'deployments', 'default', 'bc', 'state.json');
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as ModelServingState;
    const podOfC = state.variations.C!.pods[0]!.pid;
    // A router that has not yet taken the signal to reload: here one held stopped.
    process.kill(state.router!.pid, 'SIGSTOP');
    let removed = false;
    const removal = target.remove('bc', '', 'C').then(() => (removed = true));
    try {
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(removed).toBe(false);
      // The router may still send requests to C, so C's pod still answers them.
      expect(isServing(podOfC)).toBe(true);
    } finally {
      process.kill(state.router!.pid, 'SIGCONT');
    }
    await removal;
    expect(isServing(podOfC)).toBe(false);
    const asked = await fetch(`${routerUrl(state)!}/v2/models/bc`, { headers: { 'x-refit-variation': 'C' } });
    expect(asked.status).toBe(404);
    expect(await asked.json()).toEqual({ error: 'variation "C" is not serving' });
  });

  it('puts a previous build back on rollback, and removes a variation', async () => {
    await target.apply(request('b4'));
    expect((await target.status('bc', ''))!.variations.default!.buildId).toBe('b4');
    const restored = await target.rollback({ modelId: 'bc', environment: '', variation: 'default', buildId: 'b1' });
    expect(restored).toMatchObject({ buildId: 'b1', previousBuildId: 'b4', changed: true });
    await target.remove('bc', '', 'B');
    const status = await target.status('bc', '');
    expect(Object.keys(status!.variations)).toEqual(['default']);
    expect(readFileSync(path.join(root, 'deployments', 'default', 'bc', 'state.json'), 'utf8')).not.toContain('"B"');
  });
});

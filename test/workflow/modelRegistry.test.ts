// MLflow's Model Registry following what serves: real runs (build, deploy on the local target) and a real
// `refit rollback` against the MLflow test server, with the worker configured as REFIT_MLFLOW_TRACKING_URI configures
// it (the registry) while the example model keeps logging its metrics with refit_sdk.log_metric.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalMetricSource } from '../../activities/metrics/metricSource.js';
import { MlflowApi } from '../../activities/mlflow/mlflowApi.js';
import { aliasFor, MlflowModelRegistry, REGISTRY_TAGS } from '../../activities/mlflow/mlflowModelRegistry.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { RefitClient } from '../../client/refitClient.js';
import { ErrorTypes } from '../../shared/errors.js';
import type { BuildDeployResult } from '../../shared/runTypes.js';
import { packageRoot } from '../../platform/paths.js';
import { deploymentTargetFromEnvironment, modelRegistryFromEnvironment } from '../../worker/dependencies.js';
import { withModelRegistry } from '../../activities/deploy/modelRegistryTarget.js';
import { startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { startMlflow, type TestMlflow } from '../harness/mlflow.js';
import { z } from 'zod';
import { stopAllLocalServing } from '../../activities/deploy/local/localTarget.js';

describe('the MLflow Model Registry', () => {
  let mlflow: TestMlflow;
  let fixture: Fixture;
  let refit: RefitClient;
  let registry: MlflowModelRegistry;
  let api: MlflowApi;
  let home: string;
  const builds: string[] = [];
  beforeAll(async () => {
    mlflow = await startMlflow();
    home = mkdtempSync(path.join(os.tmpdir(), 'refit-registry-'));
    const env = { REFIT_MLFLOW_TRACKING_URI: mlflow.trackingUri };
    registry = modelRegistryFromEnvironment(env, new LocalMetricSource())!;
    api = new MlflowApi({ trackingUri: mlflow.trackingUri }, ErrorTypes.DeploymentFailed, 'test');
    const local = await deploymentTargetFromEnvironment({
      home,
      sdkPythonPath: path.join(packageRoot(), 'sdk', 'python'),
      secrets: new LocalSecretStore(path.join(home, 'secrets')),
    });
    fixture = await startFixture('registry', { deploymentTarget: withModelRegistry(local, registry) });
    refit = new RefitClient(fixture.server.client, fixture.taskQueue);
    await refit.register([fixture.automation((input) => (input.name = 'registered'))]);
    for (let run = 0; run < 2; run++) builds.push(((await (await refit.run('registered')).result()) as BuildDeployResult).build_id);
  }, 600_000);
  afterAll(async () => {
    await refit?.delete('registered').catch(() => undefined);
    await fixture?.close();
    await mlflow?.stop();
    // The local target here has its own home (the fixture stops only its own): its model servers stop with it.
    await stopAllLocalServing(path.join(home, 'deployments'));
    rmSync(home, { recursive: true, force: true });
  });

  const Version = z.object({ model_version: z.object({ version: z.string(), tags: z.array(z.object({ key: z.string(), value: z.string() })).optional() }) });
  const tagsOf = async (version: string) =>
    Object.fromEntries(
      (await api.call('GET', `model-versions/get?${new URLSearchParams({ name: 'registry', version })}`, undefined, Version)).model_version.tags!.map((tag) => [
        tag.key,
        tag.value,
      ]),
    );

  it('registers each deployed build as a version tagged with its build, commit and automation, with "champion" on the one serving', async () => {
    const [first, second] = [await registry.versionOf('registry', builds[0]!), await registry.versionOf('registry', builds[1]!)];
    expect([first, second]).toEqual(['1', '2']);
    expect(await tagsOf('2')).toEqual({
      [REGISTRY_TAGS.buildId]: builds[1],
      [REGISTRY_TAGS.gitCommit]: fixture.commit,
      [REGISTRY_TAGS.automation]: 'registered',
    });
    expect(await registry.aliasVersion('registry', 'champion')).toBe('2');
    const history = await refit.history('registered', 1);
    expect(history[0]?.deployed).toBe(true);
  });

  it('moves the alias back on rollback, registering nothing new', async () => {
    const result = await refit.rollback('registered', { by: 'erin', reason: 'regression' });
    expect(result.rolled_back).toEqual([{ environment: '', variation: 'default', from: builds[1], to: builds[0] }]);
    expect(await registry.aliasVersion('registry', 'champion')).toBe('1');
    expect(await registry.versionOf('registry', builds[0]!)).toBe('1');
    // A retried promotion of the same build changes nothing.
    await registry.promote({ modelId: 'registry', environment: '', variation: 'default', buildId: builds[0]! });
    expect(await registry.versionOf('registry', builds[1]!)).toBe('2');
    expect(await registry.aliasVersion('registry', 'champion')).toBe('1');
  });

  it('names aliases per variation and environment, as MLflow allows them', () => {
    expect([aliasFor('', 'default'), aliasFor('', 'B'), aliasFor('staging', 'default'), aliasFor('', 'latest'), aliasFor('', 'v2')]).toEqual([
      'champion',
      'B',
      'staging-champion',
      'latest_variation',
      'v2_variation',
    ]);
  });
});

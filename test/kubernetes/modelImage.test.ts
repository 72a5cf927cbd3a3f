// A local build's output as an image in the node's registry (activities/build/modelImage.ts): the runtime
// image, the build environment's packages as a layer shared by builds with the same dependencies, the artifact
// as a layer of its own; and a pod that runs it, importing a package only the dependency layer has.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { publishModelImage, type ModelImageRequest } from '../../activities/build/modelImage.js';
import { describeInterpreter } from '../../activities/build/pythonEnvironment.js';
import { KubernetesDeploymentTarget } from '../../activities/deploy/kubernetes/kubernetesTarget.js';
import { ErrorTypes } from '../../shared/errors.js';
import { packageRoot } from '../../platform/paths.js';
import * as fixtures from './targetFixture.js';
import { askThroughService, deployRequest, IMAGES, useTargetCluster } from './targetFixture.js';

const run = promisify(execFile);
const MODEL_DIR = path.join(packageRoot(), 'test', 'fixtures', 'models', 'needs-dependency');

interface Manifest {
  layers: { digest: string; size: number }[];
}

describe('model images from local builds', () => {
  const cluster = useTargetCluster();
  let work: string;
  let environmentDir: string;
  let pythonVersion: string;
  const crane = async (...args: string[]) => (await run(path.join(cluster.kubernetes.bin, 'crane'), args, { maxBuffer: 64 << 20 })).stdout;

  /** A build's output: refit_sdk.build of the fixture model, with the environment's package importable. */
  async function buildArtifact(name: string): Promise<string> {
    const artifactDir = path.join(work, name, 'artifact');
    mkdirSync(artifactDir, { recursive: true });
    const sitePackages = (
      await run(path.join(environmentDir, 'bin', 'python'), ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'])
    ).stdout.trim();
    await run('python3', ['-m', 'refit_sdk.build', '--model-dir', MODEL_DIR, '--artifact-dir', artifactDir], {
      env: { ...process.env, PYTHONPATH: [path.join(packageRoot(), 'sdk', 'python'), sitePackages].join(':') },
    });
    return artifactDir;
  }

  function request(buildId: string, artifactDir: string, fields: Partial<ModelImageRequest> = {}): ModelImageRequest {
    return {
      publishing: { crane: path.join(cluster.kubernetes.bin, 'crane'), baseImage: cluster.kubernetes.images.runtime!, repository: IMAGES },
      modelId: 'adder',
      buildId,
      artifactDir,
      environmentDir,
      pythonVersion,
      workDir: work,
      ...fields,
    };
  }

  const layersOf = async (reference: string) => (JSON.parse(await crane('manifest', reference)) as Manifest).layers;
  const filesOf = async (reference: string, digest: string) => {
    const blob = path.join(work, `${digest.replace(':', '-')}.tar.gz`);
    await run('sh', [
      '-c',
      `"$0" blob "$1" > "$2"`,
      path.join(cluster.kubernetes.bin, 'crane'),
      `${reference.split(':').slice(0, -1).join(':')}@${digest}`,
      blob,
    ]);
    return (await run('tar', ['--list', '--gzip', '--file', blob], { maxBuffer: 16 << 20 })).stdout.split('\n').filter(Boolean);
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'refit-model-image-'));
    // The build's environment: a virtual environment whose one package the model imports.
    environmentDir = path.join(work, 'venvs', '0123456789abcdef');
    await run('python3', ['-m', 'venv', '--without-pip', environmentDir]);
    const sitePackages = (
      await run(path.join(environmentDir, 'bin', 'python'), ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'])
    ).stdout.trim();
    writeFileSync(path.join(sitePackages, 'refit_probe_dependency.py'), 'FACTOR = 3\n');
    pythonVersion = (await describeInterpreter('python3')).version;
  }, 60_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('pushes the runtime image plus a dependency layer and an artifact layer; a second build reuses the dependency layer', async () => {
    const base = await layersOf(cluster.kubernetes.images.runtime!);
    const first = await publishModelImage(request('adder-1', await buildArtifact('adder-1')));
    expect(first).toMatchObject({ reference: `${IMAGES}/adder:adder-1`, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), dependencies: 'pushed' });
    expect(first.pinned).toBe(`${IMAGES}/adder@${first.digest}`);
    const layers = await layersOf(first.reference);
    expect(layers).toHaveLength(base.length + 2);
    expect(layers.slice(0, base.length)).toEqual(base);
    const [dependencyLayer, artifactLayer] = layers.slice(base.length);
    expect(await filesOf(first.reference, dependencyLayer!.digest)).toContain('./usr/local/lib/python3.11/dist-packages/refit_probe_dependency.py');
    const artifactFiles = await filesOf(first.reference, artifactLayer!.digest);
    expect(artifactFiles).toContain('./opt/refit/artifact/');
    expect(artifactFiles.every((file) => file.startsWith('./opt/refit/artifact'))).toBe(true);

    // Same dependencies: the layer is found in the registry, not made or sent again; only the artifact is new.
    const second = await publishModelImage(request('adder-2', await buildArtifact('adder-2')));
    expect(second.dependencies).toBe('reused');
    const secondLayers = await layersOf(second.reference);
    expect(secondLayers.slice(0, -1)).toEqual(layers.slice(0, -1));
    // A retried activity finds its image and pushes nothing.
    expect(await publishModelImage(request('adder-2', '/nonexistent'))).toEqual({ ...second, dependencies: 'reused' });
  }, 120_000);

  it('runs on the node by digest: the pod imports the package from the dependency layer and answers; a rollback puts that digest back', async () => {
    await fixtures.createNamespace(cluster, 'images');
    const image = await publishModelImage(request('adder-3', await buildArtifact('adder-3')));
    // The plain target: nothing but the publish above put the image there.
    const target = new KubernetesDeploymentTarget({ kubeConfig: cluster.kubernetes.kubeConfig, namespace: 'images', imageRepository: IMAGES, pollMs: 100 });
    const deploy = (buildId: string, pinned: string, timeout: number) => ({
      ...deployRequest('adder', buildId, fixtures.spec({ number_of_pods: 1, deployment_process_timeout_limit: timeout })),
      image: pinned,
    });
    await target.apply(deploy('adder-3', image.pinned, 60));
    const imageOfDeployment = async () =>
      (await cluster.apps.readNamespacedDeployment({ name: 'adder-default', namespace: 'images' })).spec?.template.spec?.containers[0]?.image;
    expect(await imageOfDeployment()).toBe(image.pinned);
    const { items: pods } = await cluster.core.listNamespacedPod({ namespace: 'images', labelSelector: 'refit.dev/model=adder' });
    expect(pods[0]?.status?.containerStatuses?.[0]?.imageID).toContain(image.digest);
    expect(await askThroughService(cluster, 'images', 'adder', 'adder', [[1, 2]])).toMatchObject({ status: 200, outputs: [9], modelVersion: 'adder-3' });
    // The pod's /metrics counted that request (one pod: the Service reaches it).
    const metrics = await (await fetch(`${await fixtures.serviceAddress(cluster, 'images', 'adder')}/metrics`)).text();
    expect(metrics).toContain('refit_requests_total{model="adder",variation="default",build="adder-3",code="200"} 1\n');

    // A build whose digest is not in the registry cannot be pulled; the rollback runs build adder-3's digest again.
    const missing = `${IMAGES}/adder@sha256:${'0'.repeat(64)}`;
    await expect(target.apply(deploy('adder-4', missing, 8))).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: expect.stringMatching(/rolled back: build adder-3 serves variation "default" again.*(ErrImagePull|ImagePullBackOff)/),
    });
    expect(await imageOfDeployment()).toBe(image.pinned);
  }, 180_000);

  it("refuses an environment built with another Python than the image's, and a base image that is not Refit's, naming both", async () => {
    const artifactDir = await buildArtifact('adder-5');
    await expect(publishModelImage(request('adder-5', artifactDir, { pythonVersion: '3.9.18 (main)' }))).rejects.toMatchObject({
      type: ErrorTypes.InvalidDefinition,
      message: expect.stringMatching(/built with Python 3\.9 on the worker, and the runtime image .* has Python 3\.11: compiled packages would not load there/),
    });
    const pause = cluster.kubernetes.images.pause!;
    const foreign = request('adder-5', artifactDir);
    await expect(publishModelImage({ ...foreign, publishing: { ...foreign.publishing, baseImage: pause } })).rejects.toThrow(
      `the runtime image ${pause} is not Refit's (it lacks the labels dev.refit.python and dev.refit.site-packages): set REFIT_RUNTIME_IMAGE`,
    );
    await expect(crane('digest', `${IMAGES}/adder:adder-5`)).rejects.toThrow();
  }, 60_000);
});

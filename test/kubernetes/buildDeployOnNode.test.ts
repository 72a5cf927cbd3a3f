// The whole BuildDeploy run with the Kubernetes target on the real node, as `refit dev --kubernetes` and
// `make demo-kubernetes` run it: clone with the token, build here (confined), push the image to the node's
// registry, deploy it by digest, and the model answers from its pod through its Service.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubernetesDeploymentTarget } from '../../activities/deploy/kubernetes/kubernetesTarget.js';
import { GOOD_F1, predict, startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import * as fixtures from './targetFixture.js';
import { IMAGES, useTargetCluster } from './targetFixture.js';

const run = promisify(execFile);

describe('BuildDeploy on the real Kubernetes node', () => {
  const cluster = useTargetCluster();
  let fixture: Fixture;
  beforeAll(async () => {
    await fixtures.createNamespace(cluster, 'e2e');
    const { kubeConfig, bin, images } = cluster.kubernetes;
    fixture = await startFixture('on-node', {
      deploymentTarget: new KubernetesDeploymentTarget({ kubeConfig, namespace: 'e2e', imageRepository: IMAGES, pollMs: 250 }),
      imagePublishing: { crane: path.join(bin, 'crane'), baseImage: images.runtime!, repository: IMAGES },
    });
  }, 120_000);
  afterAll(async () => fixture?.close());

  it('builds, pushes the image, deploys it by digest, and the pod answers through its Service', async () => {
    const automation = fixture.automation((input) => Object.assign(input.action.deployment_spec, { cpu_fraction: 0.5, memory: '512Mi' }));
    const result = await fixture.run(automation);
    expect(result).toMatchObject({
      deployed: true,
      metrics: { f1_score: GOOD_F1 },
      build: { image: expect.stringMatching(new RegExp(`^${IMAGES.replaceAll('.', '\\.')}/on-node@sha256:[0-9a-f]{64}$`)) },
      deployments: [{ environment: '', variation: 'default', build_id: result.build_id, changed: true }],
    });
    const deployment = await cluster.apps.readNamespacedDeployment({ name: 'on-node-default', namespace: 'e2e' });
    expect(deployment.spec?.template.spec?.containers[0]?.image).toBe(result.build?.image);

    const url = await fixtures.serviceAddress(cluster, 'e2e', 'on-node');
    // kube-proxy programs the Service's endpoints a moment after the pod is ready.
    let answer: Awaited<ReturnType<typeof predict>> | undefined;
    for (let attempt = 0; attempt < 40 && answer?.status !== 200; attempt++) {
      answer = await predict(url, 'on-node').catch(() => undefined);
      if (answer?.status !== 200) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(answer).toEqual({ status: 200, data: [0, 1], variation: 'default', build: result.build_id });
  }, 300_000);

  it('with push_image: false builds, records the metrics and the condition, pushes nothing and says why it did not deploy', async () => {
    const before = await cluster.apps.readNamespacedDeployment({ name: 'on-node-default', namespace: 'e2e' });
    const automation = fixture.automation((input) => {
      input.action.build_spec.push_image = false;
      Object.assign(input.action.deployment_spec, { cpu_fraction: 0.5, memory: '512Mi' });
    });
    const result = await fixture.run(automation);
    expect(result).toMatchObject({ deployed: false, metrics: { f1_score: GOOD_F1 }, condition: { passed: true }, deployments: [] });
    expect(result.reason).toBe(`not deployed: push_image is false, so build ${result.build_id} pushed no image for the deploy to run`);
    expect(result.build).not.toHaveProperty('image');
    const crane = path.join(cluster.kubernetes.bin, 'crane');
    await expect(run(crane, ['digest', `${IMAGES}/on-node:${result.build_id}`])).rejects.toThrow();
    const after = await cluster.apps.readNamespacedDeployment({ name: 'on-node-default', namespace: 'e2e' });
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  }, 180_000);
});

// What the Kubernetes target's test files share: one control plane per file with a fake kubelet, API
// clients, and short ways to make namespaces, targets and deployment requests.
import { afterAll, beforeAll } from '@jest/globals';
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { DeploymentRequest, DeploymentSpec } from '../../activities/deploy/deploymentTarget.js';
import { KubernetesDeploymentTarget, type KubernetesTargetOptions } from '../../activities/deploy/kubernetes/kubernetesTarget.js';
import { DeploymentSpecifications } from '../../spec/schema/deployment.js';
import { startKubernetes, type TestKubernetes } from '../harness/kubernetes.js';
import { startFakeKubelet, type FakeKubelet } from './fakeKubelet.js';

export const IMAGES = 'registry.invalid/refit';

export interface TargetFixture {
  kubernetes: TestKubernetes;
  kubelet: FakeKubelet;
  objects: KubernetesObjectApi;
  apps: AppsV1Api;
  core: CoreV1Api;
}

/** Starts the control plane and the fake kubelet before the file's tests, and stops them after. */
export function useTargetCluster(): TargetFixture {
  const fixture = {} as TargetFixture;
  beforeAll(async () => {
    fixture.kubernetes = await startKubernetes();
    fixture.kubelet = startFakeKubelet(fixture.kubernetes.kubeConfig);
    fixture.objects = KubernetesObjectApi.makeApiClient(fixture.kubernetes.kubeConfig);
    fixture.apps = fixture.kubernetes.kubeConfig.makeApiClient(AppsV1Api);
    fixture.core = fixture.kubernetes.kubeConfig.makeApiClient(CoreV1Api);
  }, 240_000);
  afterAll(async () => {
    await fixture.kubelet?.stop();
    await fixture.kubernetes?.stop();
  });
  return fixture;
}

/** Server-side apply as another field manager (a user, a GitOps controller), forced as their tools do. */
export function applyAs<T extends KubernetesObject>(fixture: TargetFixture, manager: string, object: T): Promise<T> {
  return fixture.objects.patch(object, undefined, undefined, manager, true, PatchStrategy.ServerSideApply);
}

export function createNamespace(fixture: TargetFixture, name: string): Promise<KubernetesObject> {
  return applyAs(fixture, 'refit-test', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

export function targetIn(fixture: TargetFixture, namespace: string, extra: Partial<KubernetesTargetOptions> = {}): KubernetesDeploymentTarget {
  return new KubernetesDeploymentTarget({ kubeConfig: fixture.kubernetes.kubeConfig, namespace, imageRepository: IMAGES, pollMs: 100, ...extra });
}

/** A DeploymentSpecifications with the schema's defaults filled in, as a validated definition has it. */
export function spec(fields: Record<string, unknown> = {}): DeploymentSpec {
  return DeploymentSpecifications.parse(fields);
}

export function deployRequest(modelId: string, buildId: string, deploymentSpec: DeploymentSpec, environment = ''): DeploymentRequest {
  return { automation: `retrain-${modelId}`, modelId, buildId, environment, spec: deploymentSpec, artifactDir: '/nonexistent', python: 'python3', metrics: { f1_score: 0.7 } };
}

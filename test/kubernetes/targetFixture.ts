// What the Kubernetes target's test files share: one control plane per file with a fake kubelet, API
// clients, and short ways to make namespaces, targets and deployment requests.
import { afterAll, beforeAll } from '@jest/globals';
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { DeploymentRequest, DeploymentSpec } from '../../shared/deployment.js';
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
  return {
    automation: `retrain-${modelId}`,
    modelId,
    buildId,
    environment,
    spec: deploymentSpec,
    artifactDir: '/nonexistent',
    python: 'python3',
    metrics: { f1_score: 0.7 },
  };
}

/** The kinds a deploy writes or causes (the controllers' ReplicaSets and pods), for before/after comparisons. */
const WRITTEN_KINDS: [string, string][] = [
  ['v1', 'ServiceAccount'],
  ['v1', 'Service'],
  ['v1', 'Pod'],
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'ReplicaSet'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['keda.sh/v1alpha1', 'ScaledObject'],
  ['gateway.networking.k8s.io/v1', 'HTTPRoute'],
];

/** "Kind name resourceVersion generation" of every such object in a namespace, sorted. */
export async function namespaceObjects(fixture: TargetFixture, namespace: string): Promise<string[]> {
  const lists = await Promise.all(WRITTEN_KINDS.map(([apiVersion, kind]) => whileInitializing(() => fixture.objects.list(apiVersion, kind, namespace))));
  return lists
    .flatMap((list, index) =>
      list.items.map((item) => `${WRITTEN_KINDS[index]![1]} ${item.metadata?.name} ${item.metadata?.resourceVersion} ${item.metadata?.generation ?? '-'}`),
    )
    .sort();
}

/** The controllers and the fake kubelet finish writing status a moment after a rollout: waits until nothing moves for a second. */
export async function settledObjects(fixture: TargetFixture, namespace: string): Promise<string[]> {
  let last = await namespaceObjects(fixture, namespace);
  for (let stableFor = 0; stableFor < 1000; stableFor += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = await namespaceObjects(fixture, namespace);
    if (JSON.stringify(now) !== JSON.stringify(last)) stableFor = -250;
    last = now;
  }
  return last;
}

/** Right after start-up the API server answers 429 "storage is (re)initializing" for a CRD's resources for a moment. */
async function whileInitializing<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if ((err as { code?: number }).code !== 429 || attempt >= 30) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

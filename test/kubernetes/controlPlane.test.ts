// The test control plane behaves like a cluster's: the real API server, controllers and CRDs that the
// Kubernetes deployment target will talk to. There is no kubelet (see test/harness/kubernetes.ts), so the
// rollout test reports pods ready the way a kubelet would.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  VersionApi,
  type KubernetesObject,
  type V1Deployment,
} from '@kubernetes/client-node';
import { startKubernetes, type TestKubernetes } from '../harness/kubernetes.js';
import { runningAndReady } from './fakeKubelet.js';

const namespace = 'refit-test';
const fieldManager = 'refit';

function modelDeployment(name: string, replicas: number): V1Deployment {
  const labels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'model', image: 'registry.invalid/refit/model:1', ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
}

/** Polls `read` until it returns something, or fails naming what it waited for. */
async function eventually<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** What `kubectl rollout status` calls a finished rollout. */
function rolledOut(deployment: V1Deployment): boolean {
  const status = deployment.status ?? {};
  const progressing = status.conditions?.find((condition) => condition.type === 'Progressing');
  return (
    (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1) &&
    progressing?.reason !== 'ProgressDeadlineExceeded' &&
    (status.updatedReplicas ?? 0) === (deployment.spec?.replicas ?? 1) &&
    (status.replicas ?? 0) === (status.updatedReplicas ?? 0) &&
    (status.availableReplicas ?? 0) === (status.updatedReplicas ?? 0)
  );
}

describe('the test Kubernetes control plane', () => {
  let kubernetes: TestKubernetes;
  let objects: KubernetesObjectApi;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  const apply = <T extends KubernetesObject>(object: T): Promise<T> =>
    objects.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);

  beforeAll(async () => {
    kubernetes = await startKubernetes();
    objects = KubernetesObjectApi.makeApiClient(kubernetes.kubeConfig);
    apps = kubernetes.kubeConfig.makeApiClient(AppsV1Api);
    core = kubernetes.kubeConfig.makeApiClient(CoreV1Api);
    await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  }, 240_000);

  afterAll(async () => {
    await kubernetes?.stop();
  });

  it('is a real kube-apiserver v1.35.4, reached through the kubeconfig file too', async () => {
    const fromFile = new KubeConfig();
    fromFile.loadFromFile(kubernetes.kubeconfigPath);
    expect(fromFile.getCurrentCluster()?.server).toBe(kubernetes.server);
    const version = await fromFile.makeApiClient(VersionApi).getCode();
    expect(version).toMatchObject({ gitVersion: 'v1.35.4', major: '1', minor: '35' });
  });

  it('gives a Deployment applied server-side a ReplicaSet from the controller-manager', async () => {
    const applied = await apply(modelDeployment('churn-model', 1));
    expect(applied.metadata?.managedFields?.map((entry) => [entry.manager, entry.operation])).toContainEqual([fieldManager, 'Apply']);
    const replicaSet = await eventually('a ReplicaSet owned by the Deployment', async () => {
      const { items } = await apps.listNamespacedReplicaSet({ namespace, labelSelector: 'app.kubernetes.io/name=churn-model' });
      return items.find((item) => item.metadata?.ownerReferences?.some((owner) => owner.uid === applied.metadata?.uid && owner.controller));
    });
    expect(replicaSet.spec?.replicas).toBe(1);
    expect(replicaSet.spec?.template?.spec?.containers[0]?.image).toBe('registry.invalid/refit/model:1');
  });

  it('accepts a KEDA ScaledObject and a Gateway API HTTPRoute, validated and defaulted by their CRDs', async () => {
    await apply({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'churn-model', namespace },
      spec: {
        scaleTargetRef: { name: 'churn-model' },
        minReplicaCount: 1,
        maxReplicaCount: 5,
        triggers: [
          { type: 'prometheus', metadata: { serverAddress: 'http://prometheus.monitoring.svc:9090', query: 'sum(rate(requests_total[1m]))', threshold: '50' } },
        ],
      },
    } as KubernetesObject);
    const scaledObject = await objects.read<KubernetesObject & { spec?: any }>({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'churn-model', namespace },
    });
    expect(scaledObject.spec).toMatchObject({ scaleTargetRef: { name: 'churn-model' }, maxReplicaCount: 5, triggers: [{ type: 'prometheus' }] });

    const route = (weights: [number, number], port = 80) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'churn-model', namespace },
      spec: {
        parentRefs: [{ name: 'refit-gateway' }],
        hostnames: ['churn.example.com'],
        rules: [
          {
            backendRefs: [
              { name: 'churn-model-a', port, weight: weights[0] },
              { name: 'churn-model-b', port, weight: weights[1] },
            ],
          },
        ],
      },
    });
    await apply(route([90, 10]) as KubernetesObject);
    const stored = await objects.read<KubernetesObject & { spec?: any }>({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'churn-model', namespace },
    });
    expect(stored.spec.rules[0].backendRefs.map((ref: { name: string; weight: number }) => [ref.name, ref.weight])).toEqual([
      ['churn-model-a', 90],
      ['churn-model-b', 10],
    ]);
    // Filled in by the CRD's schema defaults, so the real schema is in force.
    expect(stored.spec.rules[0].matches).toEqual([{ path: { type: 'PathPrefix', value: '/' } }]);
    await expect(apply(route([90, 10], 70_000) as KubernetesObject)).rejects.toThrow(/HTTP-Code: 422[\s\S]*backendRefs\[0\]\.port/);
  });

  it('reads a Deployment as rolled out once its pods report ready, as a kubelet would', async () => {
    const name = 'rollout-model';
    const labelSelector = `app.kubernetes.io/name=${name}`;
    await apply(modelDeployment(name, 2));
    const pods = await eventually('the ReplicaSet controller to create 2 pods', async () => {
      const { items } = await core.listNamespacedPod({ namespace, labelSelector });
      return items.length === 2 ? items : undefined;
    });
    // Without a kubelet the pods stay Pending, and the rollout waits.
    expect(pods.map((pod) => pod.status?.phase)).toEqual(['Pending', 'Pending']);
    expect(rolledOut(await apps.readNamespacedDeployment({ name, namespace }))).toBe(false);

    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    for (const pod of pods) {
      await core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace, body: runningAndReady(pod) }, mergePatch);
    }
    const deployment = await eventually('the Deployment to be rolled out', async () => {
      const current = await apps.readNamespacedDeployment({ name, namespace });
      return rolledOut(current) ? current : undefined;
    });
    expect(deployment.status).toMatchObject({ replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    const conditions = Object.fromEntries((deployment.status?.conditions ?? []).map((c) => [c.type, [c.status, c.reason]]));
    expect(conditions).toMatchObject({ Available: ['True', 'MinimumReplicasAvailable'], Progressing: ['True', 'NewReplicaSetAvailable'] });
  });
});

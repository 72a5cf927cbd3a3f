// What the Kubernetes target's test files share: the run's cluster and its real node (test/harness/kubernetes.ts),
// held under the node lease for the file, API clients, and short ways to make namespaces, targets and
// deployment requests. The target's contract is that the build system has pushed `<repository>/<model>:<build>`
// before a deploy; here the fixture's target does that push itself (test/harness/modelImages.ts), except for
// the builds a test lists in `missingImages`, whose pods then fail to pull, as they would on a real cluster.
import { beforeAll } from '@jest/globals';
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { DeploymentRequest, DeploymentSpec } from '../../shared/deployment.js';
import type { DeployContext, DeploymentResult } from '../../activities/deploy/deploymentTarget.js';
import { KubernetesDeploymentTarget, type KubernetesTargetOptions } from '../../activities/deploy/kubernetes/kubernetesTarget.js';
import { DeploymentSpecifications } from '../../spec/schema/deployment.js';
import { testNode, useNodeLease, type TestKubernetes } from '../harness/kubernetes.js';
import { pushModelImage } from '../harness/modelImages.js';

/** The model images' repository in the node's registry (a placeholder where there is no node: those tests fail saying why). */
export const IMAGES = `${(JSON.parse(process.env.REFIT_TEST_KUBERNETES || '{}') as { registry?: string }).registry ?? 'registry.invalid'}/models`;

export interface TargetFixture {
  kubernetes: ReturnType<typeof testNode> & TestKubernetes;
  objects: KubernetesObjectApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  /** Namespaces made through createNamespace: deleted, with their pods, when the file is done. */
  namespaces: Set<string>;
  /** Builds whose image is never pushed. */
  missingImages: Set<string>;
}

/** The run's cluster under the node lease for the file's tests, handed back clean after them. */
export function useTargetCluster(): TargetFixture {
  const fixture = { namespaces: new Set<string>(), missingImages: new Set<string>() } as TargetFixture;
  useNodeLease(() => [...fixture.namespaces]);
  beforeAll(() => {
    fixture.kubernetes = testNode();
    fixture.objects = KubernetesObjectApi.makeApiClient(fixture.kubernetes.kubeConfig);
    fixture.apps = fixture.kubernetes.kubeConfig.makeApiClient(AppsV1Api);
    fixture.core = fixture.kubernetes.kubeConfig.makeApiClient(CoreV1Api);
  });
  return fixture;
}

/** Server-side apply as another field manager (a user, a GitOps controller), forced as their tools do. */
export function applyAs<T extends KubernetesObject>(fixture: TargetFixture, manager: string, object: T): Promise<T> {
  return fixture.objects.patch(object, undefined, undefined, manager, true, PatchStrategy.ServerSideApply);
}

export function createNamespace(fixture: TargetFixture, name: string): Promise<KubernetesObject> {
  fixture.namespaces.add(name);
  return applyAs(fixture, 'refit-test', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

/** The Kubernetes target, with the build system's push of each build's image before its deploy. */
class TargetWithImages extends KubernetesDeploymentTarget {
  constructor(
    private readonly fixture: TargetFixture,
    options: KubernetesTargetOptions,
  ) {
    super(options);
  }

  private async push(request: DeploymentRequest): Promise<void> {
    if (!this.fixture.missingImages.has(request.buildId)) await pushModelImage(this.fixture.kubernetes, IMAGES, request.modelId, request.buildId);
  }

  override async apply(request: DeploymentRequest, context?: DeployContext): Promise<DeploymentResult> {
    await this.push(request);
    return super.apply(request, context);
  }

  override async startCanary(request: DeploymentRequest, percent: number, context?: DeployContext): Promise<DeploymentResult> {
    await this.push(request);
    return super.startCanary(request, percent, context);
  }
}

export function targetIn(fixture: TargetFixture, namespace: string, extra: Partial<KubernetesTargetOptions> = {}): KubernetesDeploymentTarget {
  return new TargetWithImages(fixture, { kubeConfig: fixture.kubernetes.kubeConfig, namespace, imageRepository: IMAGES, pollMs: 100, ...extra });
}

/**
 * A DeploymentSpecifications with the schema's defaults filled in, as a validated definition has it, except
 * that pods ask for little: the schema's default (2 CPUs and 2 GiB per pod, 2 pods) is the whole test node.
 */
export function spec(fields: Record<string, unknown> = {}): DeploymentSpec {
  return DeploymentSpecifications.parse({ cpu_fraction: 0.05, memory: '128Mi', ...fields });
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
      // Objects on their way out (a replaced pod draining its requests) are not part of what stays.
      list.items
        .filter((item) => !item.metadata?.deletionTimestamp)
        .map((item) => `${WRITTEN_KINDS[index]![1]} ${item.metadata?.name} ${item.metadata?.resourceVersion} ${item.metadata?.generation ?? '-'}`),
    )
    .sort();
}

/** The controllers and the kubelet finish writing status a moment after a rollout: waits until nothing moves for a second. */
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

/** http://<ClusterIP>:<port> of a Service: this machine reaches it through kube-proxy's rules. */
export async function serviceAddress(fixture: TargetFixture, namespace: string, service: string): Promise<string> {
  const { spec } = await fixture.core.readNamespacedService({ name: service, namespace });
  return `http://${spec!.clusterIP}:${spec!.ports![0]!.port}`;
}

export interface ServiceAnswer {
  status: number;
  outputs: unknown;
  /** The model_version of the answer: the build that answered. */
  modelVersion?: string;
  variation: string | null;
  /** The pod that answered (the server's x-refit-pod header). */
  pod: string | null;
}

/**
 * An Open Inference Protocol request to a model through a Service's ClusterIP, routed by kube-proxy to a pod.
 * kube-proxy programs a Service's endpoints a moment after its pods become ready: refused connections are
 * retried for a while.
 */
export async function askThroughService(fixture: TargetFixture, namespace: string, service: string, modelId: string, rows: number[][]): Promise<ServiceAnswer> {
  const url = `${await serviceAddress(fixture, namespace, service)}/v2/models/${modelId}/infer`;
  const body = JSON.stringify({ inputs: [{ name: 'rows', shape: [rows.length, rows[0]!.length], datatype: 'FP64', data: rows }] });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });
      const text = await response.text();
      if (!response.headers.get('x-refit-build-id')) {
        throw new Error(`${url} answered ${response.status} without x-refit-build-id: not a model server (server: ${response.headers.get('server')})`);
      }
      const answer = (() => {
        try {
          return JSON.parse(text) as { model_version?: string; outputs?: { data: unknown }[] };
        } catch {
          throw new Error(`${url} answered ${response.status} with ${JSON.stringify(text)} (headers ${JSON.stringify([...response.headers])})`);
        }
      })();
      return {
        status: response.status,
        outputs: answer.outputs?.[0]?.data,
        modelVersion: answer.model_version,
        variation: response.headers.get('x-refit-variation'),
        pod: response.headers.get('x-refit-pod'),
      };
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`${url} did not answer: ${(err as Error).message} (${String((err as { cause?: unknown }).cause ?? '')})`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

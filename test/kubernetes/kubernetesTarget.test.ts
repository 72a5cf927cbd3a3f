// The Kubernetes deployment target against the run's cluster (kube-apiserver, controller-manager, scheduler,
// etcd; KEDA and Gateway API CRDs) and its real node: pods pull their images from the loopback registry, run
// Refit's model server, pass (or fail) their probes, and answer through their Services via kube-proxy.
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { DeploymentSpec } from '../../shared/deployment.js';
import type { KubernetesTargetOptions } from '../../activities/deploy/kubernetes/kubernetesTarget.js';
import { ErrorTypes } from '../../shared/errors.js';
import { loadDefinitions } from '../../spec/loader.js';
import * as fixtures from './targetFixture.js';
import { askThroughService, IMAGES, deployRequest as request, spec, useTargetCluster } from './targetFixture.js';
import { deleteNamespaces } from '../harness/kubernetes.js';

describe('the Kubernetes deployment target', () => {
  const cluster = useTargetCluster();
  let seedSpec: DeploymentSpec;
  const createNamespace = (name: string) => fixtures.createNamespace(cluster, name);
  const targetIn = (namespace: string, extra: Partial<KubernetesTargetOptions> = {}) => fixtures.targetIn(cluster, namespace, extra);
  const read = <T extends KubernetesObject>(apiVersion: string, kind: string, namespace: string, name: string) =>
    cluster.objects.read<T>({ apiVersion, kind, metadata: { name, namespace } });

  beforeAll(async () => {
    const seed = await loadDefinitions(['examples/seed.yaml']);
    seedSpec = seed.automations[0]!.automation.action.deployment_spec;
  });

  it("applies the seed's DeploymentSpecifications as objects the API server accepts, with the values the seed names", async () => {
    await createNamespace('seed');
    expect(seedSpec).toMatchObject({ number_of_pods: 1, cpu_fraction: 2, memory: '2Gi', variation_name: 'B' });
    try {
      await seedDeploymentServes();
    } finally {
      // Its 2 CPUs are the whole node: hand them back to the tests after it, whatever happened.
      await deleteNamespaces(cluster.kubernetes.kubeConfig, ['seed']);
    }
  });

  async function seedDeploymentServes(): Promise<void> {
    const result = await targetIn('seed').apply(request('my-model-id', 'my-model-id-0123456789ab', seedSpec));
    expect(result).toMatchObject({
      modelId: 'my-model-id',
      variation: 'B',
      buildId: 'my-model-id-0123456789ab',
      changed: true,
      url: 'http://my-model-id.seed.svc.cluster.local',
    });

    const deployment = await cluster.apps.readNamespacedDeployment({ name: 'my-model-id-b', namespace: 'seed' });
    expect(deployment.spec?.replicas).toBe(1);
    const container = deployment.spec!.template.spec!.containers[0]!;
    expect(container.image).toBe(`${IMAGES}/my-model-id:my-model-id-0123456789ab`);
    expect(container.resources).toEqual({ requests: { cpu: '2', memory: '2Gi' }, limits: { cpu: '2', memory: '2Gi' } });
    expect(container.readinessProbe?.httpGet?.path).toBe('/v2/health/ready');
    expect(container.livenessProbe?.httpGet?.path).toBe('/v2/health/live');
    expect(container.args).toEqual(
      expect.arrayContaining(['--variation', 'B', '--workers', '2', '--timeout-ms', '5000', '--max-batch-size', '1', '--daemon-mode', 'false']),
    );
    expect(deployment.spec!.template.metadata!.labels).toMatchObject({
      'refit.dev/model': 'my-model-id',
      'refit.dev/variation': 'B',
      'refit.dev/build': 'my-model-id-0123456789ab',
    });
    const service = await cluster.core.readNamespacedService({ name: 'my-model-id', namespace: 'seed' });
    expect(service.spec?.selector).toEqual({ 'refit.dev/model': 'my-model-id' });

    // What status() reports is what champion/challenger conditions read.
    const status = await targetIn('seed').status('my-model-id', '');
    expect(status?.variations.B).toMatchObject({ buildId: 'my-model-id-0123456789ab', metrics: { f1_score: 0.7 } });

    // A real pod on the node runs the image and answers through the Service (ClusterIP, kube-proxy).
    const { items: pods } = await cluster.core.listNamespacedPod({ namespace: 'seed', labelSelector: 'refit.dev/model=my-model-id' });
    expect(pods).toHaveLength(1);
    expect(pods[0]!.spec?.nodeName).toBe(cluster.kubernetes.node.name);
    expect(pods[0]!.status?.phase).toBe('Running');
    expect(pods[0]!.status?.containerStatuses?.[0]).toMatchObject({ ready: true, image: `${IMAGES}/my-model-id:my-model-id-0123456789ab` });
    const answer = await askThroughService(cluster, 'seed', 'my-model-id', 'my-model-id', [
      [1, 2],
      [3, 4],
    ]);
    expect(answer).toMatchObject({ status: 200, outputs: [6, 14], modelVersion: 'my-model-id-0123456789ab', variation: 'B', pod: pods[0]!.metadata!.name });
  }

  it("turns the seed's auto_scale_config example into a KEDA ScaledObject with a Prometheus trigger", async () => {
    await createNamespace('autoscale');
    const autoscaled = spec({
      ...seedSpec,
      cpu_fraction: 0.05,
      memory: '128Mi',
      custom_iam_role_arn: 'arn:aws:iam::123456789012:role/model-serving',
      auto_scale_config: {
        min_replica_count: 1,
        max_replica_count: 10,
        polling_interval: 30,
        cool_down_period: 300,
        triggers: [{ query_spec: { aggregation_type: 'max', metric_type: 'latency', time_period: 4 }, threshold: 60 }],
      },
    });
    const target = targetIn('autoscale', { prometheusUrl: 'http://prometheus.monitoring.svc:9090' });
    await target.apply(request('my-model-id', 'my-model-id-1', autoscaled));
    const scaledObject = await read<KubernetesObject & { spec: any }>('keda.sh/v1alpha1', 'ScaledObject', 'autoscale', 'my-model-id-b');
    expect(scaledObject.spec).toMatchObject({
      scaleTargetRef: { name: 'my-model-id-b' },
      minReplicaCount: 1,
      maxReplicaCount: 10,
      pollingInterval: 30,
      cooldownPeriod: 300,
      advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } } },
    });
    expect(scaledObject.spec.triggers).toHaveLength(1);
    const [trigger] = scaledObject.spec.triggers;
    expect(trigger).toMatchObject({ type: 'prometheus', metadata: { serverAddress: 'http://prometheus.monitoring.svc:9090', threshold: '60' } });
    expect(trigger.metadata.query).toBe(
      'max(histogram_quantile(1, sum by (pod, le) (rate(refit_request_duration_seconds_bucket{namespace="autoscale",pod=~"my-model-id-b-[a-z0-9]+-[a-z0-9]{5}"}[4m]))) * 1000)',
    );
    // The autoscaler owns the replica count: the Deployment does not set one (the API server defaults it to 1).
    const deployment = await cluster.apps.readNamespacedDeployment({ name: 'my-model-id-b', namespace: 'autoscale' });
    expect(deployment.metadata?.managedFields?.find((entry) => entry.manager === 'refit')?.fieldsV1).not.toHaveProperty(['f:spec', 'f:replicas']);
    const serviceAccount = await cluster.core.readNamespacedServiceAccount({ name: 'my-model-id-b', namespace: 'autoscale' });
    expect(serviceAccount.metadata?.annotations).toMatchObject({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/model-serving' });
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe('my-model-id-b');
  });

  it('serves two variations A and B of one model behind one HTTPRoute with both weighted backends', async () => {
    await createNamespace('ab');
    const target = targetIn('ab', { gateway: { name: 'refit-gateway', namespace: 'gateways' } });
    await target.apply(request('churn', 'churn-a1', spec({ number_of_pods: 1, variation_name: 'A' })));
    const second = await target.apply(request('churn', 'churn-b1', spec({ number_of_pods: 1, variation_name: 'B' })));
    expect(second.notes).toEqual([]);
    const route = await read<KubernetesObject & { spec: any }>('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ab', 'churn');
    expect(route.spec.parentRefs).toEqual([expect.objectContaining({ name: 'refit-gateway', namespace: 'gateways' })]);
    const weighted = route.spec.rules.find((rule: any) => rule.backendRefs.length === 2);
    expect(weighted.backendRefs.map((ref: any) => [ref.name, ref.port, ref.weight])).toEqual([
      ['churn-a', 80, 1],
      ['churn-b', 80, 1],
    ]);
    for (const variation of ['a', 'b']) {
      const service = await cluster.core.readNamespacedService({ name: `churn-${variation}`, namespace: 'ab' });
      expect(service.spec?.selector).toEqual({ 'refit.dev/model': 'churn', 'refit.dev/variation': variation.toUpperCase() });
    }
    const status = await target.status('churn', '');
    expect(Object.keys(status!.variations).sort()).toEqual(['A', 'B']);
    // Each variation's Service reaches its own build's pods; the model's Service reaches both.
    for (const [service, build] of [
      ['churn-a', 'churn-a1'],
      ['churn-b', 'churn-b1'],
    ]) {
      expect(await askThroughService(cluster, 'ab', service!, 'churn', [[1]])).toMatchObject({ status: 200, outputs: [2], modelVersion: build });
    }

    // Weights given to the target; then B stops serving and the route goes, A keeps serving.
    await targetIn('ab', { weights: { churn: { A: 90, B: 10 } } }).apply(request('churn', 'churn-b1', spec({ number_of_pods: 1, variation_name: 'B' })));
    const reweighted = await read<KubernetesObject & { spec: any }>('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ab', 'churn');
    expect(reweighted.spec.rules.at(-1).backendRefs.map((ref: any) => ref.weight)).toEqual([90, 10]);
    // The same again changes nothing, the CRD's defaults (a path match on every rule) notwithstanding.
    const again = await targetIn('ab', { weights: { churn: { A: 90, B: 10 } } }).apply(
      request('churn', 'churn-b1', spec({ number_of_pods: 1, variation_name: 'B' })),
    );
    expect(again.changed).toBe(false);
    expect((await read('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ab', 'churn')).metadata?.resourceVersion).toBe(reweighted.metadata?.resourceVersion);
    await target.remove('churn', '', 'B');
    await expect(read('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ab', 'churn')).rejects.toMatchObject({ code: 404 });
    await expect(cluster.apps.readNamespacedDeployment({ name: 'churn-b', namespace: 'ab' })).rejects.toMatchObject({ code: 404 });
    expect(Object.keys((await target.status('churn', ''))!.variations)).toEqual(['A']);
  });

  it('rolls a rollout whose image cannot be pulled back to the previous revision, saying so', async () => {
    await createNamespace('rollback');
    const target = targetIn('rollback');
    await target.apply(request('fraud', 'fraud-1', spec({ number_of_pods: 1 })));
    const before = await cluster.apps.readNamespacedDeployment({ name: 'fraud-default', namespace: 'rollback' });
    const serviceBefore = await cluster.core.readNamespacedService({ name: 'fraud', namespace: 'rollback' });

    // Nothing pushed the new build's image: the kubelet cannot pull it.
    cluster.missingImages.add('fraud-2');
    const failing = target.apply(request('fraud', 'fraud-2', spec({ number_of_pods: 1, deployment_process_timeout_limit: 8 })));
    await expect(failing).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: expect.stringMatching(
        /^build fraud-2 of fraud was not deployed to namespace "rollback" \(rolled back: build fraud-1 serves variation "default" again\): the rollout did not finish in time \(waiting for new pods to be ready: 0 of 1 available .*\); pods of build fraud-2: 1 pod waiting: (ErrImagePull|ImagePullBackOff) \(.*fraud:fraud-2/,
      ),
    });
    const after = await cluster.apps.readNamespacedDeployment({ name: 'fraud-default', namespace: 'rollback' });
    expect(after.spec?.template).toEqual(before.spec?.template);
    expect(after.spec?.template.spec?.containers[0]?.image).toBe(`${IMAGES}/fraud:fraud-1`);
    expect(after.spec?.template.metadata?.labels?.['refit.dev/build']).toBe('fraud-1');
    expect(after.spec?.progressDeadlineSeconds).toBe(before.spec?.progressDeadlineSeconds);
    expect((await cluster.core.readNamespacedService({ name: 'fraud', namespace: 'rollback' })).metadata?.resourceVersion).toBe(
      serviceBefore.metadata?.resourceVersion,
    );
    expect((await target.status('fraud', ''))?.variations.default?.buildId).toBe('fraud-1');
    expect(await askThroughService(cluster, 'rollback', 'fraud', 'fraud', [[1]])).toMatchObject({ status: 200, modelVersion: 'fraud-1' });
  });

  it('rolls a rollout whose pods never become ready back within deployment_process_timeout_limit, saying why', async () => {
    const target = targetIn('rollback');
    const timeoutSeconds = 10;
    const started = Date.now();
    // The new build's server starts but never finishes loading its model: the readiness probe never passes.
    const neverReady = spec({ number_of_pods: 1, deployment_process_timeout_limit: timeoutSeconds, env_vars: ['NEVER_READY_PODS=.'] });
    await expect(target.apply(request('fraud', 'fraud-3', neverReady))).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: expect.stringMatching(
        /^build fraud-3 of fraud was not deployed to namespace "rollback" \(rolled back: build fraud-1 serves variation "default" again\): .*pods of build fraud-3: 1 pod running but not ready \(the readiness probe \/v2\/health\/ready fails\)/,
      ),
    });
    // It waited the whole limit, and no longer than that plus the rollback (generous: these machines are shared).
    expect(Date.now() - started).toBeGreaterThanOrEqual(timeoutSeconds * 1000);
    expect(Date.now() - started).toBeLessThan((timeoutSeconds + 90) * 1000);
    const { items: pods } = await cluster.core.listNamespacedPod({ namespace: 'rollback', labelSelector: 'refit.dev/model=fraud' });
    const staying = pods.filter((pod) => !pod.metadata?.deletionTimestamp);
    expect(staying.map((pod) => pod.metadata?.labels?.['refit.dev/build'])).not.toContain('fraud-3');
    expect(await askThroughService(cluster, 'rollback', 'fraud', 'fraud', [[1]])).toMatchObject({ status: 200, modelVersion: 'fraud-1' });
  });

  it('removes what a first deploy created when it fails, and puts back an earlier build from the kept history', async () => {
    await createNamespace('history');
    const target = targetIn('history');
    cluster.missingImages.add('ads-1');
    await expect(target.apply(request('ads', 'ads-1', spec({ number_of_pods: 1, deployment_process_timeout_limit: 2 })))).rejects.toThrow(
      /^build ads-1 of ads was not deployed to namespace "history" \(rolled back: nothing served variation "default" before, so its objects were removed\)/,
    );
    // The build system pushes it after all.
    cluster.missingImages.delete('ads-1');
    await expect(cluster.apps.readNamespacedDeployment({ name: 'ads-default', namespace: 'history' })).rejects.toMatchObject({ code: 404 });
    await expect(cluster.core.readNamespacedServiceAccount({ name: 'ads-default', namespace: 'history' })).rejects.toMatchObject({ code: 404 });

    for (const build of ['ads-1', 'ads-2', 'ads-3'])
      await target.apply({ ...request('ads', build, spec({ number_of_pods: 1 })), metrics: { f1_score: Number(build.at(-1)) / 10 } });
    const restored = await target.rollback({ modelId: 'ads', environment: '', variation: 'default', buildId: 'ads-1' });
    expect(restored).toMatchObject({ buildId: 'ads-1', previousBuildId: 'ads-3', changed: true });
    expect((await target.status('ads', ''))?.variations.default).toMatchObject({
      buildId: 'ads-1',
      metrics: { f1_score: 0.1 },
      previousBuildIds: ['ads-3', 'ads-2'],
    });
    await expect(target.rollback({ modelId: 'ads', environment: '', variation: 'default', buildId: 'ads-9' })).rejects.toThrow(
      'build ads-9 is not in the kept history of variation "default" of ads in namespace "history", so it cannot be put back',
    );
  });

  it('changes nothing when the same build is applied twice (same resourceVersions)', async () => {
    await createNamespace('twice');
    const target = targetIn('twice');
    const autoscaled = spec({
      number_of_pods: 1,
      auto_scale_config: { max_replica_count: 3, triggers: [{ query_spec: { aggregation_type: 'avg', metric_type: 'cpu', time_period: 2 }, threshold: 1 }] },
    });
    const first = await target.apply(request('ranker', 'ranker-1', autoscaled));
    expect(first.changed).toBe(true);
    const versions = async () => {
      const kinds: [string, string, string][] = [
        ['v1', 'ServiceAccount', 'ranker-default'],
        ['apps/v1', 'Deployment', 'ranker-default'],
        ['v1', 'Service', 'ranker'],
        ['keda.sh/v1alpha1', 'ScaledObject', 'ranker-default'],
      ];
      return Promise.all(kinds.map(async ([apiVersion, kind, name]) => `${kind} ${(await read(apiVersion, kind, 'twice', name)).metadata?.resourceVersion}`));
    };
    const settled = await stableVersions(versions);
    const second = await target.apply(request('ranker', 'ranker-1', autoscaled));
    expect(second).toMatchObject({ changed: false, buildId: 'ranker-1' });
    expect(await versions()).toEqual(settled);
  });
});

/** The controllers finish writing status a moment after a rollout: wait until nothing moves for a second. */
async function stableVersions(read: () => Promise<string[]>): Promise<string[]> {
  let last = await read();
  for (let stableFor = 0; stableFor < 1000; stableFor += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = await read();
    if (JSON.stringify(now) !== JSON.stringify(last)) stableFor = -250;
    last = now;
  }
  return last;
}

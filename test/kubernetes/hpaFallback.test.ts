// Without KEDA: this file's control plane loses the ScaledObject CRD, and the target notices (discovery, not a
// cache), falls back to a plain HorizontalPodAutoscaler for cpu/memory triggers, and refuses other triggers
// before touching anything.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { ApiextensionsV1Api, AutoscalingV2Api } from '@kubernetes/client-node';
import type { DeploymentRequest } from '../../shared/deployment.js';
import { Cluster } from '../../activities/deploy/kubernetes/cluster.js';
import type { KubernetesDeploymentTarget } from '../../activities/deploy/kubernetes/kubernetesTarget.js';
import { ErrorTypes } from '../../shared/errors.js';
import { createNamespace, deployRequest, spec, targetIn, useTargetCluster } from './targetFixture.js';

const namespace = 'no-keda';

describe('autoscaling without KEDA', () => {
  const cluster = useTargetCluster();
  let target: KubernetesDeploymentTarget;
  let autoscaling: AutoscalingV2Api;

  const request = (modelId: string, fields: Record<string, unknown>): DeploymentRequest =>
    deployRequest(modelId, `${modelId}-1`, spec({ number_of_pods: 2, ...fields }));
  const trigger = (metric_type: string, threshold: number) => ({ query_spec: { metric_type, aggregation_type: 'avg', time_period: 5 }, threshold });

  beforeAll(async () => {
    autoscaling = cluster.kubernetes.kubeConfig.makeApiClient(AutoscalingV2Api);
    await createNamespace(cluster, namespace);
    target = targetIn(cluster, namespace);
  });

  it('notices when the KEDA ScaledObject CRD goes away', async () => {
    const discovery = new Cluster(cluster.kubernetes.kubeConfig, namespace, 'refit', `namespace "${namespace}"`);
    expect(await discovery.features()).toEqual({ keda: true, gatewayApi: true });
    await cluster.kubernetes.kubeConfig.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: 'scaledobjects.keda.sh' });
    const deadline = Date.now() + 30_000;
    while ((await discovery.features()).keda) {
      if (Date.now() > deadline) throw new Error('the API server still serves scaledobjects.keda.sh 30 s after its CRD was deleted');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await discovery.features()).toEqual({ keda: false, gatewayApi: true });
  });

  it('makes a HorizontalPodAutoscaler for cpu and memory triggers', async () => {
    const result = await target.apply(
      request('churn', {
        auto_scale_config: { min_replica_count: 2, max_replica_count: 6, cool_down_period: 600, triggers: [trigger('cpu', 0.75), trigger('memory', 1536)] },
      }),
    );
    expect(result.notes).toEqual([expect.stringMatching(/^KEDA is not installed: auto_scale_config became a HorizontalPodAutoscaler/)]);
    const hpa = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'churn-default', namespace });
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'churn-default' },
      minReplicas: 2,
      maxReplicas: 6,
      behavior: { scaleDown: { stabilizationWindowSeconds: 600 } },
    });
    expect(hpa.spec?.metrics?.map((metric) => [metric.resource?.name, metric.resource?.target.averageValue])).toEqual([
      ['cpu', '750m'],
      ['memory', '1536Mi'],
    ]);

    // Without auto_scale_config the HPA goes and the Deployment runs number_of_pods again.
    await target.apply({ ...request('churn', {}), buildId: 'churn-2' });
    await expect(autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'churn-default', namespace })).rejects.toMatchObject({ code: 404 });
    expect((await cluster.apps.readNamespacedDeployment({ name: 'churn-default', namespace })).spec?.replicas).toBe(2);
  });

  it('refuses a latency trigger before touching anything, saying to install KEDA', async () => {
    await expect(target.apply(request('fraud', { auto_scale_config: { max_replica_count: 4, triggers: [trigger('latency', 200)] } }))).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: expect.stringMatching(
        /^auto_scale_config\.triggers\[0\] \(latency\) needs KEDA, and the cluster has no ScaledObject resource \(keda\.sh\/v1alpha1\): install KEDA/,
      ),
    });
    await expect(cluster.apps.readNamespacedDeployment({ name: 'fraud-default', namespace })).rejects.toMatchObject({ code: 404 });
  });
});

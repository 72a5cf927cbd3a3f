// The seed's autoscaling example, scaled for a test, on the real node: KEDA's operator and metrics API server
// (test/harness/keda.ts), a real Prometheus scraping the model pods, and the kube-controller-manager's HPA
// controller doing the scaling. The model answers in at least 80 ms (PREDICT_DELAY_MS), so the trigger
// "latency, max over 1 minute, threshold 60 ms" is above its threshold while requests come and has no data once
// they stop; the Deployment goes above 1 replica under a bounded load and back to min_replica_count after it.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AutoscalingV2Api, CustomObjectsApi } from '@kubernetes/client-node';
import { startKeda, type TestKeda } from '../harness/keda.js';
import { startPrometheus, type TestPrometheus } from '../harness/prometheus.js';
import * as fixtures from './targetFixture.js';
import { askThroughService, deployRequest, useTargetCluster } from './targetFixture.js';

const namespace = 'keda-scaling';
const deployment = 'scorer-default';
const COOL_DOWN_SECONDS = 30;

describe('KEDA scales a model on its latency', () => {
  let keda: TestKeda | undefined;
  let prometheus: TestPrometheus | undefined;
  let dir: string;
  // Declared before the node lease's hooks, so that it runs first: the operator removes its finalizers from the
  // ScaledObjects before the namespace goes.
  afterAll(async () => {
    await keda?.stop();
    await prometheus?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
  const cluster = useTargetCluster();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'refit-keda-'));
    prometheus = await startPrometheus(cluster.kubernetes, path.join(dir, 'prometheus'));
    await fixtures.createNamespace(cluster, namespace);
    keda = await startKeda(cluster.kubernetes, path.join(dir, 'keda'), namespace);
  }, 300_000);

  const replicas = async () => (await cluster.apps.readNamespacedDeployment({ name: deployment, namespace })).status?.readyReplicas ?? 0;

  it('goes above 1 replica under load and back to min_replica_count after cool_down_period', async () => {
    const target = fixtures.targetIn(cluster, namespace, { prometheusUrl: prometheus!.url });
    const autoScale = {
      min_replica_count: 1,
      max_replica_count: 10,
      polling_interval: 5,
      cool_down_period: COOL_DOWN_SECONDS,
      triggers: [{ query_spec: { metric_type: 'latency', aggregation_type: 'max', time_period: 1 }, threshold: 60 }],
    };
    const result = await target.apply(
      deployRequest('scorer', 'scorer-1', fixtures.spec({ cpu_fraction: 0.1, env_vars: ['PREDICT_DELAY_MS=80'], auto_scale_config: autoScale })),
    );
    expect(result.notes).toEqual([]);
    await askThroughService(cluster, namespace, 'scorer', 'scorer', [[1, 1]]);

    // KEDA makes the HPA and reports the ScaledObject Ready once its trigger answers.
    const custom = cluster.kubernetes.kubeConfig.makeApiClient(CustomObjectsApi);
    const scaledObject = { group: 'keda.sh', version: 'v1alpha1', namespace, plural: 'scaledobjects', name: deployment };
    await until('the ScaledObject is Ready', 90_000, async () => {
      const object = (await custom.getNamespacedCustomObject(scaledObject)) as {
        status?: { conditions?: { type: string; status: string; message?: string }[] };
      };
      const ready = object.status?.conditions?.find((condition) => condition.type === 'Ready');
      return ready?.status === 'True' ? true : `Ready is ${ready?.status ?? 'not set'}: ${ready?.message ?? ''}`;
    });
    const autoscaling = cluster.kubernetes.kubeConfig.makeApiClient(AutoscalingV2Api);
    const hpa = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: `keda-hpa-${deployment}`, namespace });
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: deployment },
      minReplicas: 1,
      maxReplicas: 10,
      behavior: { scaleDown: { stabilizationWindowSeconds: COOL_DOWN_SECONDS } },
    });
    expect(await replicas()).toBe(1);

    // A bounded load: four callers, a connection per request (kube-proxy picks a pod per connection), for at most
    // three minutes, until the Deployment has more than one ready pod.
    const address = await serviceEndpoint(cluster);
    let loading = true;
    let answered = 0;
    const caller = async () => {
      while (loading) if (await ask(address)) answered++;
    };
    const callers = Array.from({ length: 4 }, caller);
    try {
      await until('the Deployment has more than 1 ready replica', 180_000, async () => {
        const ready = await replicas();
        return ready > 1 ? true : `${ready} ready after ${answered} requests`;
      });
    } finally {
      loading = false;
      await Promise.all(callers);
    }
    const scaledUp = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: `keda-hpa-${deployment}`, namespace });
    expect(scaledUp.status?.desiredReplicas).toBeGreaterThan(1);
    expect(scaledUp.status?.desiredReplicas).toBeLessThanOrEqual(10);
    const stoppedAt = Date.now();

    // What `refit scale-status` shows, read from the same objects: the trigger's value is the query's (an upper bound
    // of a histogram bucket: 100 ms for the 80 ms requests, more when the pods' CPU limit slows them), and the
    // HPA's rescale is the last scaling.
    const { variations } = await target.scaleStatus('scorer', '');
    expect(variations).toEqual([
      expect.objectContaining({
        variation: 'default',
        autoscaler: 'keda',
        min_replicas: 1,
        max_replicas: 10,
        triggers: [{ trigger: 'latency max over 1 min', unit: 'ms', threshold: 60, value: expect.any(Number) }],
        last_scale: { at: expect.any(String), message: expect.stringMatching(/^New size: \d+; reason: /) },
        problems: [],
      }),
    ]);
    expect(variations[0]!.triggers[0]!.value).toBeGreaterThan(60);

    // No requests: after the query's window (1 minute) the trigger has no data, which KEDA reads as 0; the HPA
    // then waits out its stabilization window (cool_down_period) before scaling down.
    await until('the Deployment is back at 1 replica', 300_000, async () => {
      const deploymentNow = await cluster.apps.readNamespacedDeployment({ name: deployment, namespace });
      const desired = deploymentNow.spec?.replicas;
      return desired === 1 ? true : `${desired} replicas wanted`;
    });
    // Not sooner than the cool-down: the trigger was above its threshold until the load stopped.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(COOL_DOWN_SECONDS * 1000);
    const scaledDown = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: `keda-hpa-${deployment}`, namespace });
    expect(scaledDown.status?.desiredReplicas).toBe(1);
  }, 600_000);
});

async function until(what: string, timeoutMs: number, check: () => Promise<true | string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outcome = await check().catch((err: Error) => `error: ${err.message}`);
    if (outcome === true) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s (last: ${outcome})`);
    await sleep(1000);
  }
}

async function serviceEndpoint(cluster: fixtures.TargetFixture): Promise<{ host: string; port: number }> {
  const { spec } = await cluster.core.readNamespacedService({ name: 'scorer', namespace });
  return { host: spec!.clusterIP!, port: spec!.ports![0]!.port };
}

const body = JSON.stringify({ inputs: [{ name: 'rows', shape: [1, 2], datatype: 'FP64', data: [[1, 1]] }] });

/** One inference request on a connection of its own; true when it was answered 200. */
function ask({ host, port }: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.request(
      { host, port, path: '/v2/models/scorer/infer', method: 'POST', agent: false, timeout: 10_000, headers: { 'content-type': 'application/json' } },
      (response) => response.resume().on('end', () => resolve(response.statusCode === 200)),
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => setTimeout(() => resolve(false), 100));
    request.end(body);
  });
}

// The autoscaling triggers' PromQL (activities/deploy/kubernetes/promql.ts) against a real Prometheus that
// scrapes the model pods' /metrics and the kubelet's cAdvisor on the node: every metric_type × aggregation_type
// gives a number from scraped data. gpu reads NVIDIA's DCGM exporter, which needs a GPU, so here its series come
// from a test exporter of DCGM-named series for the real pods (test/harness/dcgmExporter.ts): that checks the
// query against the exporter's names and labels, not a GPU. That KEDA scales on these queries: kedaScaling.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { triggerQuery } from '../../activities/deploy/kubernetes/promql.js';
import { AGGREGATION_TYPES, METRIC_TYPES } from '../../spec/schema/deployment.js';
import { startDcgmExporter, type TestDcgmExporter } from '../harness/dcgmExporter.js';
import { startPrometheus, valueOf, type TestPrometheus } from '../harness/prometheus.js';
import * as fixtures from './targetFixture.js';
import { askThroughService, deployRequest, useTargetCluster } from './targetFixture.js';

describe('autoscaling queries on real scraped data', () => {
  const cluster = useTargetCluster();
  let prometheus: TestPrometheus;
  let dcgm: TestDcgmExporter;
  let dir: string;
  // A steady trickle of requests for as long as the tests run: rates over the last minute stay above zero.
  let loading = true;
  let load: Promise<void> | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'refit-prometheus-'));
    dcgm = await startDcgmExporter(cluster.kubernetes.node.name);
    prometheus = await startPrometheus(cluster.kubernetes, dir, [{ job: 'dcgm-exporter', address: dcgm.address }]);
    await fixtures.createNamespace(cluster, 'scaling');
    await fixtures.targetIn(cluster, 'scaling').apply(deployRequest('scorer', 'scorer-1', fixtures.spec({ number_of_pods: 2 })));
    const { items: pods } = await cluster.core.listNamespacedPod({ namespace: 'scaling', labelSelector: 'refit.dev/model=scorer' });
    dcgm.setUtilisation(pods.map((pod, index) => ({ namespace: 'scaling', pod: pod.metadata!.name!, percent: 40 + 20 * index })));
    await askThroughService(cluster, 'scaling', 'scorer', 'scorer', [[1, 1]]);
    // Load through the Service, a connection per request: kube-proxy picks a pod per connection.
    const { spec: service } = await cluster.core.readNamespacedService({ name: 'scorer', namespace: 'scaling' });
    const body = JSON.stringify({ inputs: [{ name: 'rows', shape: [1, 2], datatype: 'FP64', data: [[1, 1]] }] });
    const ask = () =>
      new Promise<void>((resolve) => {
        const request = http.request(
          {
            host: service!.clusterIP,
            port: service!.ports![0]!.port,
            path: '/v2/models/scorer/infer',
            method: 'POST',
            agent: false,
            headers: { 'content-type': 'application/json' },
          },
          (response) => response.resume().on('end', () => resolve()),
        );
        request.on('error', () => resolve());
        request.end(body);
      });
    load = (async () => {
      while (loading) {
        await ask();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
  }, 180_000);
  afterAll(async () => {
    loading = false;
    await load;
    await prometheus?.stop();
    await dcgm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("scrapes the model server's own series from both pods, with the labels the queries select on", async () => {
    // Each pod's series appears once a request has reached it and it has been scraped since: wait for both.
    const pods = await valueOf(prometheus, 'sum by (pod) (refit_requests_total{namespace="scaling",code="200"})', {
      complete: (values) => values.length >= 2,
    });
    expect(pods).toHaveLength(2);
    expect(pods.every((count) => count > 0)).toBe(true);
  }, 90_000);

  const combinations = METRIC_TYPES.flatMap((metric) => AGGREGATION_TYPES.map((aggregation) => [metric, aggregation] as const));
  it.each(combinations)(
    '%s with %s gives one number',
    async (metric_type, aggregation_type) => {
      const trigger = { type: 'AutoScalingPrometheusTrigger' as const, query_spec: { metric_type, aggregation_type, time_period: 1 }, threshold: 60 };
      const values = await valueOf(prometheus, triggerQuery(trigger, 'scaling', 'scorer-default'));
      expect(values).toHaveLength(1);
      const [value] = values as [number];
      // No request failed: 0, not "no data" (which KEDA would take as an error).
      if (metric_type === 'error_rate') expect(value).toBe(0);
      // A histogram's minimum is the lower bound of its lowest bucket with a request: 0 when some took under 5 ms.
      else if (metric_type === 'cpu' || (metric_type === 'latency' && aggregation_type === 'min')) expect(value).toBeGreaterThanOrEqual(0);
      else expect(value).toBeGreaterThan(0);
      if (metric_type === 'memory') expect(value).toBeLessThan(128); // MiB, under the pod's limit
      // The two pods report 40 and 60 %: their sum, or a value between them.
      if (metric_type === 'gpu')
        expect(aggregation_type === 'sum' ? value : [value >= 40, value <= 60]).toEqual(aggregation_type === 'sum' ? 100 : [true, true]);
    },
    90_000,
  );
});

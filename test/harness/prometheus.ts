// A real Prometheus server for tests on the node (built by scripts/install-k8s-test-env.sh into the
// cluster's bin folder): it finds pods through the API server as kube-prometheus does (role: pod, the
// prometheus.io annotations, `namespace` and `pod` labels) and scrapes the kubelet's cAdvisor through the
// API server's node proxy. Scrapes every second, so that a test has rates within seconds.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../platform/freePort.js';
import { probe, startServer, stopServer, waitUntilServing } from '../../devstack/kubernetes/serverProcess.js';
import type { testNode } from './kubernetes.js';

export interface TestPrometheus {
  url: string;
  /** The values of an instant query's result vector. */
  query(expression: string): Promise<number[]>;
  stop(): Promise<void>;
}

/** A scrape target on this machine whose series keep the labels it exports (`honor_labels`), as a DCGM exporter's do. */
export interface ExtraTarget {
  job: string;
  address: string;
}

export async function startPrometheus(kubernetes: ReturnType<typeof testNode>, dir: string, extraTargets: ExtraTarget[] = []): Promise<TestPrometheus> {
  mkdirSync(dir, { recursive: true });
  const user = kubernetes.kubeConfig.getCurrentUser()!;
  const cluster = kubernetes.kubeConfig.getCurrentCluster()!;
  const file = (name: string, base64: string) => {
    writeFileSync(path.join(dir, name), Buffer.from(base64, 'base64'), { mode: 0o600 });
    return path.join(dir, name);
  };
  const tls = { ca_file: file('ca.crt', cluster.caData!), cert_file: file('admin.crt', user.certData!), key_file: file('admin.key', user.keyData!) };
  const apiServer = new URL(cluster.server).host;
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    scrape_configs: [
      {
        job_name: 'pods',
        kubernetes_sd_configs: [{ role: 'pod', kubeconfig_file: kubernetes.kubeconfigPath }],
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], action: 'keep', regex: 'true' },
          {
            source_labels: ['__meta_kubernetes_pod_ip', '__meta_kubernetes_pod_annotation_prometheus_io_port'],
            regex: '(.+);(\\d+)',
            replacement: '$1:$2',
            target_label: '__address__',
          },
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_path'], regex: '(.+)', target_label: '__metrics_path__' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        ],
      },
      {
        job_name: 'cadvisor',
        scheme: 'https',
        tls_config: tls,
        metrics_path: `/api/v1/nodes/${kubernetes.node.name}/proxy/metrics/cadvisor`,
        static_configs: [{ targets: [apiServer] }],
      },
      ...extraTargets.map(({ job, address }) => ({ job_name: job, honor_labels: true, static_configs: [{ targets: [address] }] })),
    ],
  };
  // YAML is a superset of JSON: the config needs no YAML writer.
  writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = startServer(
    dir,
    path.join(kubernetes.bin, 'prometheus'),
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { removeOnExit: dir },
  ); // its data goes with it, even when the test run is killed
  await waitUntilServing(server, () => probe(`${url}/-/ready`));
  return {
    url,
    async query(expression) {
      const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expression })}`);
      const body = (await response.json()) as { status: string; error?: string; data?: { result: { value: [number, string] }[] } };
      if (body.status !== 'success') throw new Error(`Prometheus refused ${expression}: ${body.error}`);
      return body.data!.result.map((sample) => Number(sample.value[1]));
    },
    stop: () => stopServer(server),
  };
}

/**
 * Polls an instant query until it has a result (Prometheus needs two scrapes before a rate exists), or until
 * `complete` accepts the result: a series per target appears only once that target has been scraped.
 */
export async function valueOf(
  prometheus: TestPrometheus,
  expression: string,
  { timeoutMs = 60_000, complete = () => true }: { timeoutMs?: number; complete?: (values: number[]) => boolean } = {},
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const values = await prometheus.query(expression);
    if (values.length && values.every(Number.isFinite) && complete(values)) return values;
    if (Date.now() > deadline) throw new Error(`no finite value from ${expression} within ${timeoutMs} ms (last: ${JSON.stringify(values)})`);
    await sleep(1000);
  }
}

// A stand-in for NVIDIA's DCGM exporter, for the gpu trigger's query where there is no GPU: a test double of a
// third-party service that cannot run here. It serves the exporter's series under its names and labels
// (DCGM_FI_DEV_GPU_UTIL, a gauge of percent, with gpu, UUID, modelName, Hostname and, as the exporter's
// Kubernetes pod mapping adds them, namespace, pod and container) for pods the test names, with values it sets.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestDcgmExporter {
  /** host:port for a Prometheus static target. */
  address: string;
  /** The utilisation (0-100) each GPU-holding pod reports from now on. */
  setUtilisation(pods: { namespace: string; pod: string; percent: number }[]): void;
  stop(): Promise<void>;
}

export async function startDcgmExporter(hostname: string): Promise<TestDcgmExporter> {
  let gauges: { namespace: string; pod: string; percent: number }[] = [];
  const server = http.createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    const lines = [
      '# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).',
      '# TYPE DCGM_FI_DEV_GPU_UTIL gauge',
      ...gauges.map(
        ({ namespace, pod, percent }, gpu) =>
          `DCGM_FI_DEV_GPU_UTIL{gpu="${gpu}",UUID="GPU-00000000-0000-0000-0000-00000000000${gpu}",device="nvidia${gpu}",modelName="Tesla T4",` +
          `Hostname="${hostname}",container="model",namespace="${namespace}",pod="${pod}"} ${percent}`,
      ),
    ];
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${lines.join('\n')}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    setUtilisation(pods) {
      gauges = pods;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// The PromQL behind each auto_scale_config trigger. Every query yields one number for the variation's
// pods (KEDA needs a single-element result): a per-pod series over `time_period` minutes, aggregated across
// pods by `aggregation_type`. Units, which the threshold is compared in:
//   cpu: cores · memory: MiB · gpu: utilisation % · latency: ms · error_rate: fraction of requests (0-1) · throughput: requests/s
// cpu and memory come from cAdvisor (kubelet), gpu from NVIDIA's DCGM exporter, and latency, error_rate and
// throughput from the serving container's own metrics (REQUEST_METRICS below), scraped with `namespace` and
// `pod` labels as kube-prometheus does.
import type { DeploymentSpec } from '../../../shared/deployment.js';

type Trigger = NonNullable<DeploymentSpec['auto_scale_config']>['triggers'][number];
type Aggregation = Trigger['query_spec']['aggregation_type'];

export const REQUEST_METRICS = {
  /** Histogram of request durations in seconds. */
  duration: 'refit_request_duration_seconds',
  /** Counter of answered requests, with the HTTP status in `code`. */
  requests: 'refit_requests_total',
} as const;

/** Which series belong to one variation's pods: pod names are `<deployment>-<replicaset hash>-<5 characters>`. */
export function podSelector(namespace: string, deploymentName: string): string {
  return `namespace="${namespace}",pod=~"${deploymentName}-[a-z0-9]+-[a-z0-9]{5}"`;
}

function quantileOf(aggregation: Aggregation): number | undefined {
  const match = /^p(\d\d)$/.exec(aggregation);
  return match ? Number(match[1]) / 100 : undefined;
}

/** Gauges (memory, gpu) are first reduced over the window per pod, in the spirit of the aggregation. */
function overTime(aggregation: Aggregation): string {
  return aggregation === 'min' ? 'min_over_time' : aggregation === 'max' ? 'max_over_time' : 'avg_over_time';
}

function perPod(trigger: Trigger, selector: string): string {
  const { metric_type: metric, aggregation_type: aggregation, time_period: minutes } = trigger.query_spec;
  const window = `[${minutes}m]`;
  const { duration, requests } = REQUEST_METRICS;
  switch (metric) {
    case 'cpu':
      return `sum by (pod) (rate(container_cpu_usage_seconds_total{${selector},container="model"}${window}))`;
    case 'memory':
      return `sum by (pod) (${overTime(aggregation)}(container_memory_working_set_bytes{${selector},container="model"}${window})) / 1048576`;
    case 'gpu':
      return `avg by (pod) (${overTime(aggregation)}(DCGM_FI_DEV_GPU_UTIL{${selector}}${window}))`;
    case 'throughput':
      return `sum by (pod) (rate(${requests}{${selector}}${window}))`;
    case 'error_rate': {
      // A pod that answered no 5xx has no such series: `or ... * 0` makes its errors 0 rather than no result at all.
      const all = `sum by (pod) (rate(${requests}{${selector}}${window}))`;
      return `(sum by (pod) (rate(${requests}{${selector},code=~"5.."}${window})) or ${all} * 0) / ${all}`;
    }
    case 'latency':
      // A histogram has no exact minimum or maximum: its lowest and highest quantiles stand for them.
      if (aggregation === 'min' || aggregation === 'max') {
        return `histogram_quantile(${aggregation === 'max' ? 1 : 0}, sum by (pod, le) (rate(${duration}_bucket{${selector}}${window}))) * 1000`;
      }
      return `sum by (pod) (rate(${duration}_sum{${selector}}${window})) / sum by (pod) (rate(${duration}_count{${selector}}${window})) * 1000`;
  }
}

/** The PromQL of one trigger, for the pods of Deployment `deploymentName` in `namespace`. */
export function triggerQuery(trigger: Trigger, namespace: string, deploymentName: string): string {
  const selector = podSelector(namespace, deploymentName);
  const { metric_type: metric, aggregation_type: aggregation, time_period: minutes } = trigger.query_spec;
  const quantile = quantileOf(aggregation);
  if (quantile !== undefined) {
    // Latency percentiles come from the histogram of all pods' requests together, as a percentile should.
    if (metric === 'latency') {
      return `histogram_quantile(${quantile}, sum by (le) (rate(${REQUEST_METRICS.duration}_bucket{${selector}}[${minutes}m]))) * 1000`;
    }
    return `quantile(${quantile}, ${perPod(trigger, selector)})`;
  }
  return `${aggregation}(${perPod(trigger, selector)})`;
}

// auto_scale_config as a KEDA ScaledObject with one Prometheus trigger per trigger, or, when KEDA is not
// installed and only CPU and memory are asked for, as a plain autoscaling/v2 HorizontalPodAutoscaler.
import type { KubernetesObject, V2HorizontalPodAutoscaler, V2MetricSpec } from '@kubernetes/client-node';
import { formatMemory } from '../../../spec/memory.js';
import type { DeploymentSpec } from '../../../shared/deployment.js';
import { objectNamesFor, variationLabels } from './names.js';
import { triggerQuery } from './promql.js';
import { cpuQuantity } from './workload.js';

type AutoScaleConfig = NonNullable<DeploymentSpec['auto_scale_config']>;

export interface ScaledObject extends KubernetesObject {
  spec: {
    scaleTargetRef: { apiVersion?: string; kind?: string; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    pollingInterval: number;
    cooldownPeriod: number;
    advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: number } } } };
    triggers: { type: 'prometheus'; metadata: { serverAddress: string; query: string; threshold: string } }[];
  };
}

export type Scaler = { kind: 'keda' | 'hpa'; notes: string[] } | { kind: 'unavailable'; reason: string };

const HPA_METRICS = new Set(['cpu', 'memory']);
/** The most autoscaling/v2 accepts for a stabilization window. */
const MAX_STABILIZATION_SECONDS = 3600;

/** Which autoscaler serves a config, given whether the cluster has KEDA's ScaledObject. */
export function chooseScaler(config: AutoScaleConfig, kedaInstalled: boolean): Scaler {
  const capped = `cool_down_period is capped at ${MAX_STABILIZATION_SECONDS} s for a HorizontalPodAutoscaler`;
  if (kedaInstalled) {
    // KEDA's own cooldownPeriod (the step to 0 pods) takes the whole period; the stabilization window of its HPA cannot.
    const long = config.cool_down_period > MAX_STABILIZATION_SECONDS;
    return { kind: 'keda', notes: long ? [`${capped}, through which KEDA scales down to 1 pod`] : [] };
  }
  const others = config.triggers.map((trigger, index) => ({ index, metric: trigger.query_spec.metric_type })).filter(({ metric }) => !HPA_METRICS.has(metric));
  if (others.length) {
    const which = others.map(({ index, metric }) => `triggers[${index}] (${metric})`).join(', ');
    return {
      kind: 'unavailable',
      reason:
        `auto_scale_config.${which} needs KEDA, and the cluster has no ScaledObject resource (keda.sh/v1alpha1): ` +
        'install KEDA (https://keda.sh/docs/deploy/), or scale on cpu and memory only (a plain HorizontalPodAutoscaler does that)',
    };
  }
  const notes = [
    'KEDA is not installed: auto_scale_config became a HorizontalPodAutoscaler, which scales on the current average usage per pod ' +
      '(aggregation_type and time_period do not apply to it)',
  ];
  if (config.polling_interval !== 30) notes.push("polling_interval does not apply to a HorizontalPodAutoscaler (the cluster's sync period does)");
  if (config.min_replica_count < 1) notes.push('min_replica_count 0 needs KEDA: the HorizontalPodAutoscaler keeps at least 1 pod');
  if (config.cool_down_period > MAX_STABILIZATION_SECONDS) notes.push(capped);
  return { kind: 'hpa', notes };
}

export function scaledObjectFor(modelId: string, variation: string, namespace: string, config: AutoScaleConfig, prometheusUrl: string): ScaledObject {
  const name = objectNamesFor(modelId, variation).variation;
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name, namespace, labels: variationLabels(modelId, variation) },
    spec: {
      scaleTargetRef: { name },
      minReplicaCount: config.min_replica_count,
      maxReplicaCount: config.max_replica_count,
      pollingInterval: config.polling_interval,
      // KEDA's cooldownPeriod only delays the step down to 0 pods; above that the HPA it makes decides, after its
      // scale-down stabilization window (5 minutes by default). The same period there makes cool_down_period mean
      // what it says at any min_replica_count: this long after a trigger was last above its threshold.
      cooldownPeriod: config.cool_down_period,
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: { scaleDown: { stabilizationWindowSeconds: Math.min(config.cool_down_period, MAX_STABILIZATION_SECONDS) } },
        },
      },
      triggers: config.triggers.map((trigger) => ({
        type: 'prometheus' as const,
        metadata: { serverAddress: prometheusUrl, query: triggerQuery(trigger, namespace, name), threshold: String(trigger.threshold) },
      })),
    },
  };
}

/** Thresholds are per pod: cores for cpu, MiB for memory (the units of the Prometheus queries). */
export function horizontalPodAutoscalerFor(modelId: string, variation: string, namespace: string, config: AutoScaleConfig): V2HorizontalPodAutoscaler {
  const name = objectNamesFor(modelId, variation).variation;
  const metrics: V2MetricSpec[] = config.triggers.map((trigger) => {
    const cpu = trigger.query_spec.metric_type === 'cpu';
    const averageValue = cpu ? cpuQuantity(trigger.threshold) : formatMemory(Math.max(1, Math.round(trigger.threshold)));
    return { type: 'Resource', resource: { name: cpu ? 'cpu' : 'memory', target: { type: 'AverageValue', averageValue } } };
  });
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, namespace, labels: variationLabels(modelId, variation) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: Math.max(1, config.min_replica_count),
      maxReplicas: config.max_replica_count,
      metrics,
      behavior: { scaleDown: { stabilizationWindowSeconds: Math.min(config.cool_down_period, MAX_STABILIZATION_SECONDS) } },
    },
  };
}

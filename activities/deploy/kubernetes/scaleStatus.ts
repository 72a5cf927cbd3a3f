// How a variation's autoscaling stands, read from what the cluster's autoscalers report: the HPA's replica counts
// and current metrics, its SuccessfulRescale events, and KEDA's ScaledObject conditions. Reading is apart from
// judging (scaleOf is plain), so every case is a unit test.
import type { CoreV1Event, V1Deployment, V2HorizontalPodAutoscaler, V2MetricStatus } from '@kubernetes/client-node';
import type { DeploymentSpec } from '../../../shared/deployment.js';
import type { TriggerReading, VariationScale } from '../../../shared/operations.js';
import type { Cluster } from './cluster.js';
import { objectNamesFor, servingSelector } from './names.js';
import { releaseOfDeployment } from './servingRecord.js';
import type { ScaledObject } from './scaling.js';

type AutoScaleConfig = NonNullable<DeploymentSpec['auto_scale_config']>;
type Trigger = AutoScaleConfig['triggers'][number];

/** The unit each trigger's threshold is in (promql.ts's queries). */
export const TRIGGER_UNITS: Record<Trigger['query_spec']['metric_type'], string> = {
  cpu: 'cores',
  memory: 'MiB',
  gpu: '%',
  latency: 'ms',
  error_rate: '',
  throughput: 'req/s',
};

/** The HPA KEDA makes for a ScaledObject (KEDA's default name). */
export function kedaHpaName(scaledObjectName: string): string {
  return `keda-hpa-${scaledObjectName}`;
}

const SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A Kubernetes quantity ("83334m", "1536Mi", "2") as a number; undefined when it is not one. */
export function quantityValue(quantity: string | undefined): number | undefined {
  const match = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(quantity ?? '');
  const factor = match ? SUFFIXES[match[2]!] : undefined;
  return match && factor !== undefined ? Number(match[1]) * factor : undefined;
}

export interface ScaleReadings {
  variation: string;
  deployment: V1Deployment;
  config: AutoScaleConfig | undefined;
  /** The ScaledObject, when KEDA scales the variation. */
  scaledObject?: ScaledObject & { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } };
  hpa?: V2HorizontalPodAutoscaler;
  /** The HPA's events, any order. */
  events: CoreV1Event[];
}

export function scaleOf({ variation, deployment, config, scaledObject, hpa, events }: ScaleReadings): VariationScale {
  const status = deployment.status ?? {};
  const base = {
    variation,
    build_id: releaseOfDeployment(deployment)?.buildId,
    replicas: status.replicas ?? 0,
    ready_replicas: status.readyReplicas ?? 0,
  };
  if (!config) return { ...base, autoscaler: 'none', triggers: [], problems: [] };
  const problems: string[] = [];
  if (scaledObject) {
    const ready = scaledObject.status?.conditions?.find((condition) => condition.type === 'Ready');
    if (ready?.status !== 'True') problems.push(`ScaledObject not Ready${ready?.message ? `: ${ready.message}` : ' (has KEDA seen it yet?)'}`);
  }
  if (!hpa)
    problems.push(scaledObject ? `KEDA has made no HorizontalPodAutoscaler ${kedaHpaName(scaledObject.metadata!.name!)} yet` : 'no HorizontalPodAutoscaler');
  for (const condition of hpa?.status?.conditions ?? []) {
    const bad = (condition.type === 'AbleToScale' || condition.type === 'ScalingActive') && condition.status === 'False';
    // Only the ceiling is worth a user's attention: ScaleUpLimit and ScaleDownLimit are the HPA pacing a change it is
    // making anyway, and TooFewReplicas is an idle model resting at min_replica_count.
    const limited = condition.type === 'ScalingLimited' && condition.status === 'True' && condition.reason === 'TooManyReplicas';
    if (bad || limited) problems.push(`${condition.type} ${condition.status} (${condition.reason}): ${condition.message}`);
  }
  const currentReplicas = hpa?.status?.currentReplicas ?? base.replicas;
  const triggers = config.triggers.map((trigger, index): TriggerReading => {
    const { metric_type: metric, aggregation_type: aggregation, time_period: minutes } = trigger.query_spec;
    const reading = { trigger: `${metric} ${aggregation} over ${minutes} min`, unit: TRIGGER_UNITS[metric], threshold: trigger.threshold };
    const value = hpa && triggerValue(hpa, index, scaledObject ? undefined : metric, currentReplicas);
    return value === undefined ? reading : { ...reading, value };
  });
  const rescales = events
    .filter((event) => event.reason === 'SuccessfulRescale')
    .map((event) => ({ at: eventTime(event), message: event.message ?? '' }))
    .filter((event): event is { at: Date; message: string } => event.at !== undefined)
    .sort((a, b) => b.at.getTime() - a.at.getTime());
  const lastScaleTime = hpa?.status?.lastScaleTime;
  const last_scale = rescales[0]
    ? { at: rescales[0].at.toISOString(), message: rescales[0].message }
    : lastScaleTime
      ? { at: new Date(lastScaleTime).toISOString(), message: 'rescaled (its event has expired)' }
      : undefined;
  return {
    ...base,
    autoscaler: scaledObject ? 'keda' : 'hpa',
    desired_replicas: hpa?.status?.desiredReplicas,
    min_replicas: hpa?.spec?.minReplicas ?? config.min_replica_count,
    max_replicas: hpa?.spec?.maxReplicas ?? config.max_replica_count,
    triggers,
    ...(last_scale ? { last_scale } : {}),
    problems,
  };
}

/**
 * The trigger's value as the HPA last read it, in the threshold's unit. KEDA's triggers are external metrics
 * `s<index>-<type>` with an AverageValue target: the HPA reports the query's value divided by the current replicas,
 * so it is multiplied back. A plain HPA's cpu and memory are per-pod averages, as its thresholds are.
 */
function triggerValue(hpa: V2HorizontalPodAutoscaler, index: number, resource: string | undefined, replicas: number): number | undefined {
  const current = hpa.status?.currentMetrics ?? [];
  if (resource) {
    const status = current.filter((metric) => metric.type === 'Resource')[index] as V2MetricStatus | undefined;
    const value = quantityValue(status?.resource?.current.averageValue);
    if (value === undefined) return undefined;
    return resource === 'memory' ? value / 2 ** 20 : value;
  }
  const status = current.find((metric) => metric.type === 'External' && metric.external?.metric.name.startsWith(`s${index}-`));
  const { value, averageValue } = status?.external?.current ?? {};
  if (averageValue !== undefined) {
    const average = quantityValue(averageValue);
    return average === undefined ? undefined : average * Math.max(1, replicas);
  }
  return quantityValue(value);
}

function eventTime(event: CoreV1Event): Date | undefined {
  const at = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata?.creationTimestamp;
  return at ? new Date(at) : undefined;
}

/** Reads every serving variation of a model in the cluster's namespace. */
export async function readScale(cluster: Cluster, modelId: string, kedaInstalled: boolean): Promise<VariationScale[]> {
  const deployments = await cluster.deployments(servingSelector(modelId));
  const scales: VariationScale[] = [];
  for (const deployment of deployments) {
    const release = releaseOfDeployment(deployment);
    if (!release) continue;
    const variation = release.spec.variation_name;
    const name = objectNamesFor(modelId, variation).variation;
    const config = release.spec.auto_scale_config;
    const scaledObject =
      config && kedaInstalled
        ? await cluster.read<NonNullable<ScaleReadings['scaledObject']>>({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name } })
        : undefined;
    const hpaName = scaledObject ? kedaHpaName(name) : name;
    const hpa = config
      ? await cluster.read<V2HorizontalPodAutoscaler>({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: hpaName } })
      : undefined;
    const events = hpa
      ? (
          await cluster.core.listNamespacedEvent({
            namespace: cluster.namespace,
            fieldSelector: `involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=${hpaName}`,
          })
        ).items
      : [];
    scales.push(scaleOf({ variation, deployment, config, scaledObject, hpa, events }));
  }
  return scales.sort((a, b) => a.variation.localeCompare(b.variation));
}

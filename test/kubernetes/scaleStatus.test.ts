// scaleOf (activities/deploy/kubernetes/scaleStatus.ts) reads what the autoscalers report; these are its cases
// as plain data, shaped as the API server returns them. That the objects really look like this on a cluster where
// KEDA scales is checked on the node by kedaScaling.test.ts.
import { describe, expect, it } from '@jest/globals';
import type { CoreV1Event, V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { formatScaleStatus, significant } from '../../client/commands/scaling.js';
import { quantityValue, scaleOf, type ScaleReadings } from '../../activities/deploy/kubernetes/scaleStatus.js';
import { LABELS } from '../../activities/deploy/kubernetes/names.js';
import { recordAnnotations } from '../../activities/deploy/kubernetes/servingRecord.js';
import type { DeploymentSpec } from '../../shared/deployment.js';
import { DeploymentSpecifications } from '../../spec/schema/deployment.js';

const spec = (fields: Record<string, unknown> = {}): DeploymentSpec => DeploymentSpecifications.parse({ cpu_fraction: 0.05, memory: '128Mi', ...fields });

const latency = { query_spec: { metric_type: 'latency', aggregation_type: 'max', time_period: 4 }, threshold: 60 };
const autoScaled = spec({ auto_scale_config: { max_replica_count: 10, triggers: [latency] } });

function deployment(deploymentSpec = autoScaled, replicas = 2, ready = 2): V1Deployment {
  const annotations = recordAnnotations({ buildId: 'scorer-7', automation: 'retrain-scorer', modelId: 'scorer', spec: deploymentSpec, metrics: {} });
  return {
    metadata: { name: 'scorer-default' },
    spec: { selector: {}, template: { metadata: { annotations, labels: { [LABELS.model]: 'scorer' } } } },
    status: { replicas, readyReplicas: ready },
  };
}

function kedaHpa(
  averageValue: string,
  currentReplicas: number,
  extra: Partial<NonNullable<V2HorizontalPodAutoscaler['status']>> = {},
): V2HorizontalPodAutoscaler {
  return {
    metadata: { name: 'keda-hpa-scorer-default' },
    spec: {
      scaleTargetRef: { kind: 'Deployment', name: 'scorer-default' },
      minReplicas: 1,
      maxReplicas: 10,
      metrics: [{ type: 'External', external: { metric: { name: 's0-prometheus' }, target: { type: 'AverageValue', averageValue: '60' } } }],
    },
    status: {
      currentReplicas,
      desiredReplicas: currentReplicas,
      currentMetrics: [{ type: 'External', external: { metric: { name: 's0-prometheus' }, current: { averageValue } } }],
      ...extra,
    },
  };
}

const readyScaledObject = {
  apiVersion: 'keda.sh/v1alpha1',
  kind: 'ScaledObject',
  metadata: { name: 'scorer-default' },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
} as unknown as ScaleReadings['scaledObject'];

const rescale = (at: string, size: number): CoreV1Event => ({
  metadata: {},
  involvedObject: {},
  reason: 'SuccessfulRescale',
  message: `New size: ${size}; reason: external metric s0-prometheus above target`,
  lastTimestamp: new Date(at),
});

describe('scaleOf', () => {
  it("gives KEDA's trigger value as the query's (the HPA's per-pod average times the replicas) and the newest rescale", () => {
    const scale = scaleOf({
      variation: 'default',
      deployment: deployment(),
      config: autoScaled.auto_scale_config,
      scaledObject: readyScaledObject,
      hpa: kedaHpa('50', 2),
      events: [
        rescale('2026-12-03T10:00:00Z', 2),
        rescale('2026-12-03T09:00:00Z', 3),
        { ...rescale('2026-12-03T11:00:00Z', 9), reason: 'FailedGetExternalMetric' },
      ],
    });
    expect(scale).toEqual({
      variation: 'default',
      build_id: 'scorer-7',
      autoscaler: 'keda',
      replicas: 2,
      ready_replicas: 2,
      desired_replicas: 2,
      min_replicas: 1,
      max_replicas: 10,
      triggers: [{ trigger: 'latency max over 4 min', unit: 'ms', threshold: 60, value: 100 }],
      last_scale: { at: '2026-12-03T10:00:00.000Z', message: 'New size: 2; reason: external metric s0-prometheus above target' },
      problems: [],
    });
  });

  it('says what keeps it from scaling: a ScaledObject not Ready, an HPA that cannot read its metric or is at its max', () => {
    const scale = scaleOf({
      variation: 'default',
      deployment: deployment(),
      config: autoScaled.auto_scale_config,
      scaledObject: {
        ...readyScaledObject!,
        status: { conditions: [{ type: 'Ready', status: 'False', message: 'Triggers defined in ScaledObject are not working correctly' }] },
      },
      hpa: kedaHpa('', 2, {
        currentMetrics: [],
        conditions: [
          { type: 'ScalingActive', status: 'False', reason: 'FailedGetExternalMetric', message: 'unable to get external metric' },
          { type: 'ScalingLimited', status: 'True', reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' },
        ],
      }),
      events: [],
    });
    expect(scale.triggers).toEqual([{ trigger: 'latency max over 4 min', unit: 'ms', threshold: 60 }]);
    expect(scale.last_scale).toBeUndefined();
    expect(scale.problems).toEqual([
      'ScaledObject not Ready: Triggers defined in ScaledObject are not working correctly',
      'ScalingActive False (FailedGetExternalMetric): unable to get external metric',
      'ScalingLimited True (TooManyReplicas): the desired replica count is more than the maximum replica count',
    ]);
  });

  it('does not call the HPA pacing a rescale, or resting at its minimum, a problem', () => {
    const paced = (reason: string) =>
      scaleOf({
        variation: 'default',
        deployment: deployment(),
        config: autoScaled.auto_scale_config,
        scaledObject: readyScaledObject,
        hpa: kedaHpa('', 2, { conditions: [{ type: 'ScalingLimited', status: 'True', reason, message: 'limited' }] }),
        events: [],
      }).problems;
    expect(paced('ScaleUpLimit')).toEqual([]);
    expect(paced('ScaleDownLimit')).toEqual([]);
    expect(paced('TooFewReplicas')).toEqual([]);
    expect(paced('TooManyReplicas')).toEqual(['ScalingLimited True (TooManyReplicas): limited']);
  });

  it("reads a plain HPA's cpu and memory per pod, in the thresholds' units", () => {
    const config = spec({
      auto_scale_config: {
        max_replica_count: 10,
        triggers: [
          { query_spec: { metric_type: 'cpu', aggregation_type: 'avg', time_period: 5 }, threshold: 0.75 },
          { query_spec: { metric_type: 'memory', aggregation_type: 'avg', time_period: 5 }, threshold: 1536 },
        ],
      },
    }).auto_scale_config;
    const hpa: V2HorizontalPodAutoscaler = {
      spec: { scaleTargetRef: { kind: 'Deployment', name: 'x' }, minReplicas: 1, maxReplicas: 10 },
      status: {
        desiredReplicas: 3,
        lastScaleTime: new Date('2026-12-03T08:00:00Z'),
        currentMetrics: [
          { type: 'Resource', resource: { name: 'cpu', current: { averageValue: '250m' } } },
          { type: 'Resource', resource: { name: 'memory', current: { averageValue: '768Mi' } } },
        ],
      },
    };
    const scale = scaleOf({ variation: 'default', deployment: deployment(), config, hpa, events: [] });
    expect(scale.autoscaler).toBe('hpa');
    expect(scale.triggers.map((trigger) => trigger.value)).toEqual([0.25, 768]);
    expect(scale.last_scale).toEqual({ at: '2026-12-03T08:00:00.000Z', message: 'rescaled (its event has expired)' });
  });

  it('is "none" without auto_scale_config', () => {
    expect(scaleOf({ variation: 'default', deployment: deployment(spec(), 2, 1), config: undefined, events: [] })).toEqual({
      variation: 'default',
      build_id: 'scorer-7',
      autoscaler: 'none',
      replicas: 2,
      ready_replicas: 1,
      triggers: [],
      problems: [],
    });
  });
});

describe('quantityValue', () => {
  it('reads the quantities an HPA reports', () => {
    expect([quantityValue('83334m'), quantityValue('2'), quantityValue('1536Mi'), quantityValue('1.5k'), quantityValue('1e3')]).toEqual([
      83.334,
      2,
      1536 * 2 ** 20,
      1500,
      1000,
    ]);
    expect([quantityValue(''), quantityValue(undefined), quantityValue('12Q')]).toEqual([undefined, undefined, undefined]);
  });
});

describe('formatScaleStatus', () => {
  it('prints a row per trigger with the value against its threshold, and the last scaling as a relative time', () => {
    const text = formatScaleStatus(
      {
        automation: 'retrain-scorer',
        model_id: 'scorer',
        environments: [
          {
            environment: '',
            where: 'namespace "models"',
            variations: [
              {
                variation: 'default',
                autoscaler: 'keda',
                replicas: 2,
                ready_replicas: 2,
                desired_replicas: 3,
                min_replicas: 1,
                max_replicas: 10,
                triggers: [{ trigger: 'latency max over 4 min', unit: 'ms', threshold: 60, value: 100.04 }],
                last_scale: { at: '2026-12-03T10:00:00Z', message: 'New size: 2' },
                problems: ['ScalingLimited True (TooManyReplicas): at the maximum'],
              },
            ],
          },
          { environment: 'local', where: 'the local target', unsupported: 'the local target does not autoscale', variations: [] },
        ],
      },
      new Date('2026-12-03T10:05:00Z'),
    );
    expect(text).toContain('retrain-scorer (model scorer)');
    expect(text).toContain('environment (default), namespace "models"');
    expect(text).toMatch(/default .*KEDA .*2\/2 ready, wants 3 .*1-10 .*latency max over 4 min .*100 ms .*60 ms .*5m ago: New size: 2/);
    expect(text).toContain('default: ScalingLimited True (TooManyReplicas): at the maximum');
    expect(text).toContain('environment local, the local target: the local target does not autoscale');
  });

  it('rounds to 3-4 significant digits', () => {
    expect([0.012345, 1.23456, 98.7654, 1234.5, 0].map(significant)).toEqual(['0.01235', '1.235', '98.77', '1235', '0']);
  });
});

import { z } from 'zod';
import { EnvVars, Identifier, IamRoleArn, Memory, NonNegativeInt, PositiveInt, VariationName } from './common.js';

export const METRIC_TYPES = ['cpu', 'gpu', 'memory', 'latency', 'error_rate', 'throughput'] as const;
export const AGGREGATION_TYPES = ['min', 'max', 'avg', 'sum', 'p50', 'p90', 'p95', 'p99'] as const;

export const AutoScaleQuerySpec = z.strictObject({
  aggregation_type: z.enum(AGGREGATION_TYPES, { error: (issue) => `"${String(issue.input)}" is not an aggregation: one of ${AGGREGATION_TYPES.join(', ')}` }),
  metric_type: z.enum(METRIC_TYPES, { error: (issue) => `"${String(issue.input)}" is not a metric type: one of ${METRIC_TYPES.join(', ')}` }),
  /** Minutes of history the query aggregates over. */
  time_period: PositiveInt,
});

export const AutoScalingPrometheusTrigger = z.strictObject({
  type: z.literal('AutoScalingPrometheusTrigger').default('AutoScalingPrometheusTrigger'),
  query_spec: AutoScaleQuerySpec,
  /** Value of the aggregated metric at which to start scaling out. */
  threshold: z.number({ error: 'must be a number' }).positive({ error: 'must be greater than 0' }),
});

export const AutoScalingConfig = z
  .strictObject({
    min_replica_count: NonNegativeInt.default(1),
    max_replica_count: PositiveInt,
    /** Seconds between checks of each trigger. */
    polling_interval: PositiveInt.default(30),
    /** Seconds after the last active trigger before scaling back to the minimum. */
    cool_down_period: NonNegativeInt.default(300),
    triggers: z.array(AutoScalingPrometheusTrigger).min(1, { error: 'needs at least one trigger' }),
  })
  .superRefine((config, ctx) => {
    if (config.min_replica_count > config.max_replica_count) {
      ctx.addIssue({
        code: 'custom',
        path: ['min_replica_count'],
        message: `${config.min_replica_count} is more than max_replica_count (${config.max_replica_count})`,
      });
    }
  }, { when: (payload) => bothAre(payload.value, ['min_replica_count', 'max_replica_count'], Number.isInteger) });

/** How a build that passed its condition is served. */
export const DeploymentSpecifications = z
  .strictObject({
    number_of_pods: PositiveInt.default(2),
    cpu_fraction: z.number({ error: 'must be a number of CPU cores, e.g. 2 or 0.5' }).positive({ error: 'must be greater than 0' }).default(2),
    memory: Memory.default('2Gi'),
    variation_name: VariationName.default('default'),
    number_of_http_server_workers: PositiveInt.default(2),
    http_request_timeout_ms: PositiveInt.default(5000),
    daemon_mode: z.boolean({ error: 'must be true or false' }).default(false),
    custom_iam_role_arn: IamRoleArn.optional(),
    max_batch_size: PositiveInt.default(1),
    /** Seconds a rollout may take before it counts as failed and is rolled back. */
    deployment_process_timeout_limit: PositiveInt.default(1800),
    environments: z.array(Identifier).default([]),
    env_vars: EnvVars.default([]),
    auto_scale_config: AutoScalingConfig.optional(),
  })
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    spec.environments.forEach((environment, index) => {
      if (seen.has(environment)) ctx.addIssue({ code: 'custom', path: ['environments', index], message: `"${environment}" is listed twice` });
      seen.add(environment);
    });
  }, { when: (payload) => bothAre(payload.value, ['environments'], Array.isArray) });

/** Cross-field checks run even when other fields have errors, as long as the fields they read are sound. */
function bothAre(value: unknown, keys: string[], test: (field: unknown) => boolean): boolean {
  return typeof value === 'object' && value !== null && keys.every((key) => test((value as Record<string, unknown>)[key]));
}

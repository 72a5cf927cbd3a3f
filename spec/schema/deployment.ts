import { z } from 'zod';
import { boundedInt, cpuCores, EnvVars, Identifier, IamRoleArn, Memory, VariationName } from './common.js';

export const METRIC_TYPES = ['cpu', 'gpu', 'memory', 'latency', 'error_rate', 'throughput'] as const;
export const AGGREGATION_TYPES = ['min', 'max', 'avg', 'sum', 'p50', 'p90', 'p95', 'p99'] as const;

export const AutoScaleQuerySpec = z.strictObject({
  aggregation_type: z.enum(AGGREGATION_TYPES, { error: (issue) => `"${String(issue.input)}" is not an aggregation: one of ${AGGREGATION_TYPES.join(', ')}` }),
  metric_type: z.enum(METRIC_TYPES, { error: (issue) => `"${String(issue.input)}" is not a metric type: one of ${METRIC_TYPES.join(', ')}` }),
  /** Minutes of history the query aggregates over. */
  time_period: boundedInt(10_080, { what: 'minutes (a week)' }),
});

export const AutoScalingPrometheusTrigger = z.strictObject({
  type: z.literal('AutoScalingPrometheusTrigger').default('AutoScalingPrometheusTrigger'),
  query_spec: AutoScaleQuerySpec,
  /** Value of the aggregated metric at which to start scaling out. */
  threshold: z.number({ error: 'must be a number' }).positive({ error: 'must be greater than 0' }).max(1e12, { error: 'must be at most 1e12' }),
});

export const AutoScalingConfig = z
  .strictObject({
    min_replica_count: boundedInt(1000, { min: 0, what: 'replicas' }).default(1),
    max_replica_count: boundedInt(1000, { what: 'replicas' }),
    /** Seconds between checks of each trigger. */
    polling_interval: boundedInt(3600, { what: 'seconds' }).default(30),
    /** Seconds after the last active trigger before scaling back to the minimum. */
    cool_down_period: boundedInt(86_400, { min: 0, what: 'seconds (a day)' }).default(300),
    triggers: z.array(AutoScalingPrometheusTrigger).min(1, { error: 'needs at least one trigger' }).max(10, { error: 'may hold at most 10 triggers' }),
  })
  .superRefine(
    (config, ctx) => {
      if (config.min_replica_count > config.max_replica_count) {
        ctx.addIssue({
          code: 'custom',
          path: ['min_replica_count'],
          message: `${config.min_replica_count} is more than max_replica_count (${config.max_replica_count})`,
        });
      }
    },
    { when: (payload) => bothAre(payload.value, ['min_replica_count', 'max_replica_count'], Number.isInteger) },
  );

/** How a build that passed its condition is served. */
export const DeploymentSpecifications = z
  .strictObject({
    number_of_pods: boundedInt(100, { what: 'pods' }).default(2),
    cpu_fraction: cpuCores().default(2),
    memory: Memory.default('2Gi'),
    variation_name: VariationName.default('default'),
    number_of_http_server_workers: boundedInt(64, { what: 'workers' }).default(2),
    http_request_timeout_ms: boundedInt(600_000, { what: 'ms (10 minutes)' }).default(5000),
    daemon_mode: z.boolean({ error: 'must be true or false' }).default(false),
    custom_iam_role_arn: IamRoleArn.optional(),
    max_batch_size: boundedInt(100_000, { what: 'rows' }).default(1),
    /** Seconds a rollout may take before it counts as failed and is rolled back. */
    deployment_process_timeout_limit: boundedInt(86_400, { what: 'seconds (a day)' }).default(1800),
    environments: z.array(Identifier).max(20, { error: 'may hold at most 20 environments' }).default([]),
    env_vars: EnvVars.default([]),
    auto_scale_config: AutoScalingConfig.optional(),
  })
  .superRefine(
    (spec, ctx) => {
      const seen = new Set<string>();
      spec.environments.forEach((environment, index) => {
        if (seen.has(environment)) ctx.addIssue({ code: 'custom', path: ['environments', index], message: `"${environment}" is listed twice` });
        seen.add(environment);
      });
    },
    { when: (payload) => bothAre(payload.value, ['environments'], Array.isArray) },
  );

/** Cross-field checks run even when other fields have errors, as long as the fields they read are sound. */
function bothAre(value: unknown, keys: string[], test: (field: unknown) => boolean): boolean {
  return typeof value === 'object' && value !== null && keys.every((key) => test((value as Record<string, unknown>)[key]));
}
